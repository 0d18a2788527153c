using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using Confluent.Kafka;
using Ingest.Contracts;
using Ingest.Kafka.Audit;
using Ingest.Kafka.Embedded;
using Ingest.LoadTest.Bench;
using Ingest.LoadTest.Engine;
using Ingest.LoadTest.Verification;

namespace Ingest.LoadTest.Chaos;

/// <summary>Settings of the <c>chaos</c> and <c>endurance</c> commands.</summary>
internal sealed record ChaosOptions
{
    /// <summary><c>chaos</c> or <c>endurance</c>: the report's name.</summary>
    public string Command { get; init; } = "chaos";

    public int Clients { get; init; } = 32;

    /// <summary>Events per second in all, paced; null: measure the maximum first and take half of it.</summary>
    public int? Rate { get; init; } = 4_000;

    public int DurationSeconds { get; init; } = 120;

    public IReadOnlyList<FaultSpec> Faults { get; init; } = [];

    public int Brokers { get; init; } = 3;

    public int Partitions { get; init; } = 24;

    /// <summary>The gateway's <c>Ingest:Kafka:DeliveryTimeoutMs</c> (its default is 120 s; short here so that past-timeout is quick).</summary>
    public int DeliveryTimeoutMs { get; init; } = 30_000;

    public int Window { get; init; } = 64;

    public int SampleSeconds { get; init; } = 10;

    /// <summary>Length of the as-fast-as-acked phase that measures the maximum when no rate is given.</summary>
    public int MaxSeconds { get; init; } = 15;

    /// <summary>A resource series that grows fails the run (the endurance run's purpose).</summary>
    public bool TrendGate { get; init; }

    public string? GatewayDll { get; init; }

    public string? GatewayEnv { get; init; }

    /// <summary>More gateway settings (Key=Value), applied after the run's own.</summary>
    public IReadOnlyDictionary<string, string> GatewaySettings { get; init; } = new Dictionary<string, string>();

    public string ResultsDirectory { get; init; } = "results";

    /// <summary>Seconds to keep the embedded cluster up after the report, so that the listener's <c>--audit</c> can read the run.</summary>
    public int HoldClusterSeconds { get; init; }

    /// <summary>A cluster to use instead of a new one (tests: it outlives the run, for a second reconciliation); its broker count wins.</summary>
    public EmbeddedKafkaCluster? Cluster { get; init; }
}

/// <summary>What a run gave: its exit code (0 every check passed, 1 one failed, 2 could not run), result and files.</summary>
internal sealed record ChaosOutcome(int ExitCode, ChaosResult? Result, ChaosFiles? Files);

/// <summary>One check of a guarantee: what, whether it held, the numbers behind it.</summary>
internal sealed record GuaranteeCheck(string What, bool Passed, string Detail);

/// <summary>One fault of the schedule as it happened: its window, what was seen, its checks.</summary>
internal sealed record FaultPhaseResult
{
    public required string Fault { get; init; }
    public required string Guarantee { get; init; }
    public double StartSeconds { get; init; }
    public double RecoveredSeconds { get; init; }
    /// <summary>When <c>/readyz</c> answered 200 again after the fault (null: not within 60 s).</summary>
    public double? ReadySeconds { get; init; }
    /// <summary>When the first ack after the fault came (null: not within 60 s).</summary>
    public double? AcksResumedSeconds { get; init; }
    /// <summary>End of the phase's window: the next fault's start, or the end of sending.</summary>
    public double EndSeconds { get; init; }
    public long AckedDuringFault { get; init; }
    public long AckedAfterFault { get; init; }
    public long DeliveryFailedFrames { get; init; }
    public long RejectedEvents { get; init; }
    public long Reconnects { get; init; }
    public long DuplicatesOfResent { get; init; }
    public long DuplicatesOfSentOnce { get; init; }
    public string Observed { get; init; } = "";
    public IReadOnlyList<GuaranteeCheck> Checks { get; init; } = [];
    public bool Passed => Checks.All(c => c.Passed);
}

/// <summary>A whole chaos or endurance run.</summary>
internal sealed record ChaosResult
{
    public required string Command { get; init; }
    public required string RunId { get; init; }
    public required string Topic { get; init; }
    public int Brokers { get; init; }
    public int Partitions { get; init; }
    public int Clients { get; init; }
    public double Rate { get; init; }
    /// <summary>Acked events/s of the as-fast-as-acked phase, when the rate was measured.</summary>
    public double? MeasuredMaximum { get; init; }
    public int DeliveryTimeoutMs { get; init; }
    public double Seconds { get; init; }
    public long Sent { get; init; }
    public long Resent { get; init; }
    public long Acked { get; init; }
    public long DeliveryFailedFrames { get; init; }
    public long Reconnects { get; init; }
    public long ConsumeErrors { get; init; }
    public long UnexplainedDuplicates { get; init; }
    public required LatencySummary AckLatency { get; init; }
    public required AuditResult Audit { get; init; }
    public IReadOnlyList<FaultPhaseResult> Phases { get; init; } = [];
    public IReadOnlyList<GuaranteeCheck> Checks { get; init; } = [];
    public IReadOnlyList<GatewayExit> GatewayExits { get; init; } = [];
    public IReadOnlyList<ResourceSample> Resources { get; init; } = [];
    public IReadOnlyList<TrendVerdict> Trends { get; init; } = [];
    public IReadOnlyList<TimelineSecond> Timeline { get; init; } = [];
    public bool Passed => Checks.All(c => c.Passed) && Phases.All(p => p.Passed);
}

/// <summary>
/// The <c>chaos</c> command (and <c>endurance</c>, the same without faults): a gateway process on
/// an embedded cluster of several brokers hosted here, paced load from clients that keep every
/// message until acked, resend after a reconnect and after <c>delivery_failed</c>; a schedule of
/// faults, each with the guarantee it tests and its checks; the gateway sampled every
/// <see cref="ChaosOptions.SampleSeconds"/>; and at the end the delivery audit of the run.
/// </summary>
internal static class ChaosRunner
{
    /// <summary>librdkafka's <c>reconnect.backoff.max.ms</c> (default): after an outage the producer may wait this long before it connects again.</summary>
    internal const int ReconnectBackoffMaxMs = 10_000;

    /// <summary>After a broker fault, how long a producer retry stored twice may still be read.</summary>
    private const double DuplicateGraceSeconds = 5;

    public static async Task<ChaosOutcome> RunAsync(ChaosOptions options, TextWriter log, CancellationToken cancellationToken)
    {
        var gatewayDll = options.GatewayDll ?? GatewayProcess.FindGatewayDll();
        if (gatewayDll is null || !File.Exists(gatewayDll))
        {
            await log.WriteLineAsync("Ingest.Gateway.dll not found: build the solution (dotnet build Ingest.sln -c Release) or pass --gateway <path>.").ConfigureAwait(false);
            return new ChaosOutcome(2, null, null);
        }

        var environment = GatewayEnvironment.Load(options.GatewayEnv);
        using var owned = options.Cluster is null ? EmbeddedKafkaCluster.Start(options.Brokers) : null;
        var cluster = options.Cluster ?? owned!;
        options = options with { Brokers = cluster.BrokerCount };
        var topic = $"{options.Command}-{Guid.NewGuid():N}"[..(options.Command.Length + 9)];
        cluster.CreateTopic(topic, options.Partitions, replicationFactor: options.Brokers);
        cluster.CreateTopic(topic + ".dlq", 1, replicationFactor: options.Brokers);
        var settings = new Dictionary<string, string>
        {
            ["Ingest:Kafka:BootstrapServers"] = cluster.BootstrapServers,
            ["Ingest:Kafka:Topic"] = topic,
            ["Ingest:Kafka:DeadLetterTopic"] = topic + ".dlq",
            ["Ingest:Kafka:DeliveryTimeoutMs"] = options.DeliveryTimeoutMs.ToString(CultureInfo.InvariantCulture),
            ["Ingest:Limits:MaxConnectionsPerAddress"] = (options.Clients + 100).ToString(CultureInfo.InvariantCulture),
            ["Serilog:MinimumLevel:Default"] = "Warning",
            // librdkafka's warnings while brokers are down would flood the console; its errors and the gateway's own stay.
            ["Serilog:MinimumLevel:Override:Ingest.Gateway.Kafka"] = "Error",
        };
        foreach (var (key, value) in options.GatewaySettings)
        {
            settings[key] = value;
        }

        var started = Stopwatch.GetTimestamp();
        await using var host = new GatewayHost(gatewayDll, settings, environment, started);
        await host.StartAsync(cancellationToken).ConfigureAwait(false);
        await log.WriteLineAsync($"{options.Command}: gateway pid {host.Current!.ProcessId} on port {host.Port}, {options.Brokers} brokers, topic {topic} ({options.Partitions} partitions, replication {options.Brokers}), delivery timeout {options.DeliveryTimeoutMs} ms, gateway environment: {environment.Summary()}").ConfigureAwait(false);

        double? maximum = null;
        var rate = options.Rate ?? 0;
        if (options.Rate is null)
        {
            await log.WriteLineAsync($"measuring the maximum: {options.Clients} clients as fast as acked for {options.MaxSeconds} s...").ConfigureAwait(false);
            maximum = await MeasureMaximumAsync(host.WebSocketUri, options, cancellationToken).ConfigureAwait(false);
            rate = Math.Max(1, (int)(maximum.Value / 2));
            await log.WriteLineAsync(string.Create(CultureInfo.InvariantCulture, $"maximum {maximum:N0} acked events/s; pacing at half: {rate:N0} events/s")).ConfigureAwait(false);
        }

        var run = new Run(options, cluster, topic, host, rate, log);
        var (result, files) = await run.ExecuteAsync(maximum, cancellationToken).ConfigureAwait(false);
        if (options.HoldClusterSeconds > 0)
        {
            await log.WriteLineAsync($"the embedded cluster stays up for {options.HoldClusterSeconds} s; reconcile the run a second time with: dotnet run -c Release --project src/Ingest.Listener -- --audit {files.Audit}").ConfigureAwait(false);
            await Task.Delay(TimeSpan.FromSeconds(options.HoldClusterSeconds), cancellationToken).ConfigureAwait(false);
        }

        return new ChaosOutcome(result.Passed ? 0 : 1, result, files);
    }

    /// <summary>Acked events/s of the clients sending as fast as their windows allow, for <see cref="ChaosOptions.MaxSeconds"/>.</summary>
    private static async Task<double> MeasureMaximumAsync(Uri uri, ChaosOptions options, CancellationToken cancellationToken)
    {
        var stats = new LoadStats();
        var runId = $"max{Guid.NewGuid():N}"[..11];
        var duration = TimeSpan.FromSeconds(options.MaxSeconds);
        var elapsed = await LoadDriver.RunAsync(uri, options.Clients, new LoadClientOptions { Window = options.Window }, stats,
            async (index, client, token) =>
            {
                var started = Stopwatch.GetTimestamp();
                for (var n = 0; Stopwatch.GetElapsedTime(started) < duration; n++)
                {
                    await client.SendAsync(TestEvents.Message(runId, index, n, 1, DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(), asArray: false), 1, TestEvents.Key(index, n), 0, token).ConfigureAwait(false);
                }
            },
            TimeSpan.FromMinutes(1),
            cancellationToken).ConfigureAwait(false);
        return stats.EventsAcked / elapsed.TotalSeconds;
    }

    /// <summary>One run's state: the clients' ledgers, the counters, the schedule.</summary>
    private sealed class Run(ChaosOptions options, EmbeddedKafkaCluster cluster, string topic, GatewayHost host, int rate, TextWriter log)
    {
        private readonly string _runId = $"run{Guid.NewGuid():N}"[..11];
        private readonly LoadStats _stats = new(latencyPerSecond: true);
        private readonly ClientLedger[] _ledgers = Enumerable.Range(0, options.Clients).Select(c => new ClientLedger(c, TestEvents.ClientId(c))).ToArray();
        private readonly ConcurrentQueue<int>[] _resends = Enumerable.Range(0, options.Clients).Select(_ => new ConcurrentQueue<int>()).ToArray();
        private readonly TimeSpan _deliveryTimeout = TimeSpan.FromMilliseconds(options.DeliveryTimeoutMs);
        private long _started;

        public async Task<(ChaosResult Result, ChaosFiles Files)> ExecuteAsync(double? maximum, CancellationToken cancellationToken)
        {
            _started = Stopwatch.GetTimestamp();
            using var audit = new AuditConsumer(cluster.BootstrapServers, topic, _runId, options.Clients, _started);
            var clientOptions = new LoadClientOptions
            {
                Window = options.Window,
                OnAcked = (key, events) =>
                {
                    var (client, n) = TestEvents.Unpack(key);
                    _ledgers[client].Acked(n, events);
                },
                OnRejected = (key, events, code) =>
                {
                    var (client, n) = TestEvents.Unpack(key);
                    _ledgers[client].Rejected(n, events);
                    if (code == ErrorCodes.DeliveryFailed)
                    {
                        // Not taken by Kafka in time: the client sends it again (the protocol's advice).
                        for (var i = 0; i < events; i++)
                        {
                            _resends[client].Enqueue(n + i);
                        }
                    }
                },
                OnResent = (key, events) =>
                {
                    var (client, n) = TestEvents.Unpack(key);
                    _ledgers[client].Resent(n, events);
                },
            };

            var timeline = new Timeline(_stats, _started);
            var sampler = new ResourceSampler(() => host.Current, _started, TimeSpan.FromSeconds(options.SampleSeconds));
            using var stopSending = new CancellationTokenSource();
            using var stopSampling = new CancellationTokenSource();
            var sampling = Task.WhenAll(timeline.RunAsync(stopSampling.Token), sampler.RunAsync(stopSampling.Token));
            var phases = new List<PhaseWindow>();
            var progress = Task.Run(() => ProgressAsync(stopSampling.Token), CancellationToken.None);
            var schedule = Task.Run(() => RunScheduleAsync(phases, stopSending, cancellationToken), cancellationToken);
            var interval = TimeSpan.FromSeconds((double)options.Clients / rate);
            var drainTimeout = _deliveryTimeout + TimeSpan.FromSeconds(120);
            TimeSpan elapsed;
            try
            {
                elapsed = await LoadDriver.RunAsync(host.WebSocketUri, options.Clients, clientOptions, _stats, (index, client, token) => ClientBodyAsync(index, client, interval, drainTimeout, stopSending.Token, token), drainTimeout, cancellationToken).ConfigureAwait(false);
                await schedule.ConfigureAwait(false);
            }
            finally
            {
                await stopSampling.CancelAsync().ConfigureAwait(false);
                await sampling.ConfigureAwait(false);
                await progress.ConfigureAwait(false);
            }

            await log.WriteLineAsync(string.Create(CultureInfo.InvariantCulture, $"load done after {elapsed.TotalSeconds:0.0} s: {_stats.EventsSent:N0} sent, {_stats.EventsAcked:N0} acked; reading the run back from Kafka...")).ConfigureAwait(false);
            await audit.FinishAsync(TimeSpan.FromMinutes(5), cancellationToken).ConfigureAwait(false);

            var records = _ledgers.Select(l => l.Snapshot()).ToList();
            var landed = records.ToDictionary(r => r.ClientId, r => audit.Landed[r.Client]);
            var reconciled = DeliveryReconciliation.Reconcile(_runId, topic, records, landed, audit.Partitions);
            var (phaseResults, unexplained) = Judge(phases, records, landed, audit.Duplicates, reconciled);
            var samples = sampler.Samples;
            var trends = TrendCheck.Check(samples);
            var checks = GlobalChecks(reconciled, unexplained, audit.Duplicates.Count, trends);

            var result = new ChaosResult
            {
                Command = options.Command,
                RunId = _runId,
                Topic = topic,
                Brokers = options.Brokers,
                Partitions = options.Partitions,
                Clients = options.Clients,
                Rate = rate,
                MeasuredMaximum = maximum,
                DeliveryTimeoutMs = options.DeliveryTimeoutMs,
                Seconds = elapsed.TotalSeconds,
                Sent = _stats.EventsSent,
                Resent = _stats.EventsResent,
                Acked = _stats.EventsAcked,
                DeliveryFailedFrames = _stats.DeliveryFailures,
                Reconnects = _stats.Reconnects,
                ConsumeErrors = audit.ConsumeErrors,
                UnexplainedDuplicates = unexplained,
                AckLatency = _stats.AckLatency.Summarize(),
                Audit = reconciled,
                Phases = phaseResults,
                Checks = checks,
                GatewayExits = host.Exits,
                Resources = samples,
                Trends = trends,
                Timeline = timeline.Seconds,
            };

            var auditFile = DeliveryAuditFile.From(_runId, topic, cluster.BootstrapServers, records, audit.Partitions, reconciled);
            var files = await ChaosReport.WriteFilesAsync(result, auditFile, options.ResultsDirectory, cancellationToken).ConfigureAwait(false);
            ChaosReport.WriteToConsole(result, Console.Out);
            await log.WriteLineAsync($"Results: {files}").ConfigureAwait(false);
            return (result, files);
        }

        /// <summary>
        /// One client: a message every <paramref name="interval"/> on a fixed schedule (late ones go
        /// out at once) until sending stops, events rejected with <c>delivery_failed</c> sent again
        /// before the next one; then until everything is resolved, the rejected ones resent too.
        /// </summary>
        private async Task ClientBodyAsync(int index, LoadClient client, TimeSpan interval, TimeSpan drainTimeout, CancellationToken stopSending, CancellationToken token)
        {
            var ledger = _ledgers[index];
            var resends = _resends[index];
            var intervalTicks = interval.TotalSeconds * Stopwatch.Frequency;
            var start = Stopwatch.GetTimestamp() + (long)(intervalTicks * Random.Shared.NextDouble());
            try
            {
                for (var n = 0; !stopSending.IsCancellationRequested; n++)
                {
                    var due = start + (long)(n * intervalTicks);
                    var wait = due - Stopwatch.GetTimestamp();
                    if (wait > 0)
                    {
                        await Task.Delay(TimeSpan.FromSeconds((double)wait / Stopwatch.Frequency), stopSending).ConfigureAwait(false);
                    }

                    await ResendRejectedAsync(index, client, stopSending).ConfigureAwait(false);
                    await client.SendAsync(TestEvents.Message(_runId, index, n, 1, DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(), asArray: false), 1, TestEvents.Key(index, n), due, stopSending).ConfigureAwait(false);
                    ledger.Sent(n, 1);
                }
            }
            catch (OperationCanceledException) when (stopSending.IsCancellationRequested)
            {
            }

            using var drain = CancellationTokenSource.CreateLinkedTokenSource(token);
            drain.CancelAfter(drainTimeout);
            try
            {
                while (true)
                {
                    await client.WaitUntilDrainedAsync(drain.Token).ConfigureAwait(false);
                    if (resends.IsEmpty)
                    {
                        return;
                    }

                    await ResendRejectedAsync(index, client, drain.Token).ConfigureAwait(false);
                }
            }
            catch (OperationCanceledException) when (!token.IsCancellationRequested)
            {
                // Not all resolved within the drain timeout: the audit counts them as unresolved.
            }
        }

        private async Task ResendRejectedAsync(int index, LoadClient client, CancellationToken token)
        {
            while (_resends[index].TryDequeue(out var n))
            {
                try
                {
                    await client.SendAsync(TestEvents.Message(_runId, index, n, 1, DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(), asArray: false), 1, TestEvents.Key(index, n), 0, token).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    _resends[index].Enqueue(n); // not sent: still to resend
                    throw;
                }

                _ledgers[index].Resent(n, 1);
                Interlocked.Increment(ref _stats.EventsResent);
            }
        }

        private double Now => Stopwatch.GetElapsedTime(_started).TotalSeconds;

        /// <summary>Runs the faults in order, spread over the duration; stops sending at the end.</summary>
        private async Task RunScheduleAsync(List<PhaseWindow> phases, CancellationTokenSource stopSending, CancellationToken cancellationToken)
        {
            try
            {
                var duration = TimeSpan.FromSeconds(options.DurationSeconds);
                var faults = options.Faults;
                var lead = TimeSpan.FromSeconds(Math.Min(5, options.DurationSeconds / 5.0));
                var busy = faults.Aggregate(TimeSpan.Zero, (sum, f) => sum + f.Length(_deliveryTimeout));
                var gap = faults.Count == 0 ? TimeSpan.Zero : TimeSpan.FromSeconds(Math.Max(2, (duration - lead - busy).TotalSeconds / faults.Count));
                await DelayUntilAsync(lead, cancellationToken).ConfigureAwait(false);
                PhaseWindow? previous = null;
                foreach (var fault in faults)
                {
                    var phase = new PhaseWindow(fault, Now, Snapshot()) { SentAtStart = SentCounts() };
                    if (previous is not null)
                    {
                        previous.EndSeconds = phase.StartSeconds;
                        previous.AtEnd = phase.AtStart;
                        previous.SentAtEnd = phase.SentAtStart;
                    }

                    lock (phases)
                    {
                        phases.Add(phase);
                    }

                    await log.WriteLineAsync(string.Create(CultureInfo.InvariantCulture, $"{phase.StartSeconds,7:0.0} s  fault {fault.Name}...")).ConfigureAwait(false);
                    phase.PidBefore = host.Current?.ProcessId ?? 0;
                    phase.Observed = await ApplyAsync(fault, cancellationToken).ConfigureAwait(false);
                    phase.RecoveredSeconds = Now;
                    phase.AtRecovered = Snapshot();
                    (phase.ReadySeconds, phase.AcksResumedSeconds) = await WaitUntilRecoveredAsync(phase.AtRecovered.Acked, TimeSpan.FromSeconds(60), cancellationToken).ConfigureAwait(false);
                    phase.PidAfter = host.Current?.ProcessId ?? 0;
                    await log.WriteLineAsync(string.Create(CultureInfo.InvariantCulture, $"{Now,7:0.0} s  {fault.Name} over at {phase.RecoveredSeconds:0.0} s, /readyz 200 {(phase.ReadySeconds is { } r ? $"at {r:0.0} s" : "NOT within 60 s")}, acks resumed {(phase.AcksResumedSeconds is { } a ? $"at {a:0.0} s" : "NOT within 60 s")}; {phase.Observed}")).ConfigureAwait(false);
                    previous = phase;
                    await DelayUntilAsync(TimeSpan.FromSeconds(Now) + gap, cancellationToken).ConfigureAwait(false);
                }

                await DelayUntilAsync(duration, cancellationToken).ConfigureAwait(false);
                if (previous is not null)
                {
                    previous.EndSeconds = Now;
                    previous.AtEnd = Snapshot();
                    previous.SentAtEnd = SentCounts();
                }
            }
            finally
            {
                await stopSending.CancelAsync().ConfigureAwait(false);
            }
        }

        private async Task DelayUntilAsync(TimeSpan at, CancellationToken cancellationToken)
        {
            var wait = at - Stopwatch.GetElapsedTime(_started);
            if (wait > TimeSpan.Zero)
            {
                await Task.Delay(wait, cancellationToken).ConfigureAwait(false);
            }
        }

        /// <summary>
        /// Seconds from the start when <c>/readyz</c> answered 200 again and when the next ack came
        /// (polled every 100 ms: the harness observing, not a test waiting); null when not within <paramref name="limit"/>.
        /// </summary>
        private async Task<(double? Ready, double? AcksResumed)> WaitUntilRecoveredAsync(long ackedAtRecovery, TimeSpan limit, CancellationToken cancellationToken)
        {
            double? ready = null, resumed = null;
            var deadline = Stopwatch.GetTimestamp() + (long)(limit.TotalSeconds * Stopwatch.Frequency);
            while (Stopwatch.GetTimestamp() < deadline && (ready is null || resumed is null))
            {
                if (resumed is null && Interlocked.Read(ref _stats.EventsAcked) > ackedAtRecovery)
                {
                    resumed = Now;
                }

                if (ready is null && host.Current is { } gateway)
                {
                    using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                    timeout.CancelAfter(TimeSpan.FromSeconds(2));
                    if (await gateway.IsReadyAsync(timeout.Token).ConfigureAwait(false))
                    {
                        ready = Now;
                    }
                }

                await Task.Delay(100, cancellationToken).ConfigureAwait(false);
            }

            return (ready, resumed);
        }

        /// <summary>Injects one fault and undoes it; returns what was done, in words.</summary>
        private async Task<string> ApplyAsync(FaultSpec fault, CancellationToken cancellationToken)
        {
            var all = Enumerable.Range(1, options.Brokers).ToArray();
            switch (fault.Kind)
            {
                case FaultKind.BrokerDown:
                    cluster.SetBrokerDown(1);
                    await Task.Delay(fault.Length(_deliveryTimeout), cancellationToken).ConfigureAwait(false);
                    cluster.SetBrokerUp(1);
                    return $"broker 1 of {options.Brokers} down {fault.Seconds} s";
                case FaultKind.KafkaDown:
                case FaultKind.PastTimeout:
                    foreach (var broker in all)
                    {
                        cluster.SetBrokerDown(broker);
                    }

                    await Task.Delay(fault.Length(_deliveryTimeout), cancellationToken).ConfigureAwait(false);
                    foreach (var broker in all)
                    {
                        cluster.SetBrokerUp(broker);
                    }

                    return string.Create(CultureInfo.InvariantCulture, $"all {options.Brokers} brokers down {fault.Length(_deliveryTimeout).TotalSeconds:0} s (delivery timeout {_deliveryTimeout.TotalSeconds:0} s)");
                case FaultKind.LeaderMoves:
                    for (var round = 1; round <= 3; round++)
                    {
                        for (var p = 0; p < options.Partitions; p++)
                        {
                            cluster.SetPartitionLeader(topic, p, ((p + round) % options.Brokers) + 1);
                        }

                        await Task.Delay(TimeSpan.FromSeconds(1), cancellationToken).ConfigureAwait(false);
                    }

                    return $"every partition's leader moved 3 times, 1 s apart";
                case FaultKind.ProduceErrors:
                case FaultKind.ProduceTimeouts:
                {
                    ErrorCode[] kinds = fault.Kind == FaultKind.ProduceErrors
                        ? [ErrorCode.NotLeaderForPartition, ErrorCode.NotEnoughReplicas]
                        : [ErrorCode.RequestTimedOut, ErrorCode.NotEnoughReplicasAfterAppend];
                    var errors = Enumerable.Range(0, 20).Select(i => kinds[i % kinds.Length]).ToArray();
                    cluster.PushRequestErrors(0, errors);
                    await Task.Delay(fault.Length(_deliveryTimeout), cancellationToken).ConfigureAwait(false);
                    cluster.ClearRequestErrors(0);
                    return $"20 produce requests failed in turn with {string.Join(", ", kinds.Select(k => k.ToString()))}";
                }

                case FaultKind.OutOfOrderSequence:
                    cluster.PushRequestErrors(0, ErrorCode.OutOfOrderSequenceNumber, ErrorCode.OutOfOrderSequenceNumber, ErrorCode.OutOfOrderSequenceNumber);
                    await Task.Delay(fault.Length(_deliveryTimeout), cancellationToken).ConfigureAwait(false);
                    cluster.ClearRequestErrors(0);
                    return "3 produce requests failed with OUT_OF_ORDER_SEQUENCE_NUMBER";
                case FaultKind.Sigkill:
                {
                    var victim = host.Current?.ProcessId;
                    var startup = await host.KillAndRestartAsync(cancellationToken).ConfigureAwait(false);
                    return string.Create(CultureInfo.InvariantCulture, $"gateway pid {victim} killed with SIGKILL; pid {host.Current?.ProcessId} started on the same port, ready in {startup.TotalSeconds:0.0} s");
                }

                default:
                    throw new ArgumentOutOfRangeException(nameof(fault));
            }
        }

        private int[] SentCounts() => _ledgers.Select(l => l.SentCount).ToArray();

        /// <summary>
        /// Acked events missing from Kafka that the phase's clients sent between its start (less a
        /// window, in flight when it began) and its end.
        /// </summary>
        private long MissingInPhase(PhaseWindow phase, List<ClientRecord> records, IReadOnlyDictionary<string, LandedEvents> landed)
        {
            var end = phase.SentAtEnd ?? SentCounts();
            long missing = 0;
            foreach (var record in records)
            {
                var from = Math.Max(0, phase.SentAtStart[record.Client] - options.Window);
                var to = end[record.Client] - 1;
                if (to < from)
                {
                    continue;
                }

                var window = RangeSet.Of([(from, to)]);
                var acked = RangeSet.IntersectionCount(record.Acked, window);
                var ackedAndLanded = 0L;
                foreach (var (first, last) in record.Acked.Ranges)
                {
                    var a = Math.Max(first, from);
                    var b = Math.Min(last, to);
                    if (a <= b)
                    {
                        ackedAndLanded += RangeSet.IntersectionCount(landed[record.ClientId].Distinct, RangeSet.Of([(a, b)]));
                    }
                }

                missing += acked - ackedAndLanded;
            }

            return missing;
        }

        private Counters Snapshot() => new(
            Interlocked.Read(ref _stats.EventsAcked), Interlocked.Read(ref _stats.DeliveryFailures), Interlocked.Read(ref _stats.EventsErrored), Interlocked.Read(ref _stats.Reconnects));

        /// <summary>Each phase's checks, and the duplicates no phase explains.</summary>
        private (IReadOnlyList<FaultPhaseResult> Phases, long Unexplained) Judge(List<PhaseWindow> phases, List<ClientRecord> records, IReadOnlyDictionary<string, LandedEvents> landed, IReadOnlyList<DuplicateCopy> duplicates, AuditResult audit)
        {
            var ofResent = new long[phases.Count];
            var ofSentOnce = new long[phases.Count];
            long unexplained = 0;
            foreach (var copy in duplicates)
            {
                var resent = records[copy.Client].Resent.Contains(copy.N);
                var phase = phases.FindIndex(p => copy.ReadAtSeconds >= p.StartSeconds && copy.ReadAtSeconds <= (resent ? p.EndSeconds : p.RecoveredSeconds + DuplicateGraceSeconds) && (resent || p.Fault.IsBrokerFault));
                if (resent)
                {
                    if (phase >= 0)
                    {
                        ofResent[phase]++;
                    }
                }
                else if (phase >= 0)
                {
                    ofSentOnce[phase]++;
                }
                else
                {
                    unexplained++;
                }
            }

            // Copies beyond the ones whose read time was kept cannot be placed: of events sent once, they count as unexplained.
            var untimed = audit.Totals.DuplicatesOfSentOnce - duplicates.LongCount(d => !records[d.Client].Resent.Contains(d.N));
            unexplained += Math.Max(0, untimed);

            var results = new List<FaultPhaseResult>();
            for (var i = 0; i < phases.Count; i++)
            {
                var p = phases[i];
                var end = p.AtEnd ?? Snapshot();
                var recovered = p.AtRecovered ?? end;
                var failed = end.DeliveryFailures - p.AtStart.DeliveryFailures;
                var checks = new List<GuaranteeCheck>();
                var sameProcess = p.PidBefore == p.PidAfter;
                var readyIn = (p.ReadySeconds is { } ready ? string.Create(CultureInfo.InvariantCulture, $"/readyz 200 {ready - p.RecoveredSeconds:0.0} s after the fault ended") : "/readyz not 200 within 60 s")
                    + (p.AcksResumedSeconds is { } resumedAt ? string.Create(CultureInfo.InvariantCulture, $", acks resumed {resumedAt - p.RecoveredSeconds:0.0} s after it") : ", no ack within 60 s after it");
                var ackedAfter = end.Acked - recovered.Acked;
                var missingHere = MissingInPhase(p, records, landed);
                var missingCheck = new GuaranteeCheck("no acked event sent in the phase is missing", missingHere == 0, $"{missingHere:N0} acked events sent from a window before the fault to the next phase are not in Kafka");
                var exits = host.Exits.Where(e => !e.KilledByHarness && e.AtSeconds >= p.StartSeconds && e.AtSeconds <= p.EndSeconds).ToList();
                string guarantee;
                switch (p.Fault.Kind)
                {
                    case FaultKind.BrokerDown:
                    case FaultKind.KafkaDown:
                        guarantee = "Kafka trouble slows clients down and loses nothing: acks pause while the brokers are down, then resume; no delivery_failed within the delivery timeout; the gateway recovers without a restart";
                        if ((p.Fault.Seconds * 1000) + ReconnectBackoffMaxMs < options.DeliveryTimeoutMs)
                        {
                            checks.Add(new("no delivery_failed (the outage and librdkafka's reconnect backoff, up to 10 s, fit in the delivery timeout)", failed == 0, $"{failed} delivery_failed frames"));
                        }
                        else
                        {
                            checks.Add(new("events not delivered within the delivery timeout got delivery_failed, were resent and acked", audit.Totals.Rejected == 0 && audit.Totals.MissingAcked == 0, $"{failed} delivery_failed frames in the phase (the outage plus the reconnect backoff reach the {options.DeliveryTimeoutMs} ms delivery timeout); {audit.Totals.Rejected:N0} rejected events never acked in the run"));
                        }

                        checks.Add(new("acks resumed after the fault", ackedAfter > 0, $"{ackedAfter:N0} events acked after it"));
                        checks.Add(new("ready again without a restart", p.ReadySeconds is not null && sameProcess, $"{readyIn}; gateway pid {p.PidBefore} -> {p.PidAfter}"));
                        checks.Add(missingCheck);
                        break;
                    case FaultKind.PastTimeout:
                        guarantee = "Kafka down past the delivery timeout: acks pause, delivery_failed arrives after the timeout, clients that resend lose nothing, no acked event is duplicated beyond the mock's undeduplicated retries; the gateway recovers without a restart";
                        checks.Add(new("delivery_failed arrived", failed > 0, $"{failed} delivery_failed frames ({end.Errored - p.AtStart.Errored:N0} events rejected)"));
                        checks.Add(new("the rejected events, resent, were acked and landed", audit.Totals.Rejected == 0 && audit.Totals.MissingAcked == 0, $"{audit.Totals.RejectedOnce:N0} events rejected at least once in the run, {audit.Totals.Rejected:N0} never acked, {audit.Totals.MissingAcked:N0} acked and missing"));
                        checks.Add(new("acks resumed after the fault", ackedAfter > 0, $"{ackedAfter:N0} events acked after it"));
                        checks.Add(new("ready again without a restart", p.ReadySeconds is not null && sameProcess, $"{readyIn}; gateway pid {p.PidBefore} -> {p.PidAfter}"));
                        checks.Add(missingCheck);
                        break;
                    case FaultKind.LeaderMoves:
                    case FaultKind.ProduceErrors:
                    case FaultKind.ProduceTimeouts:
                        guarantee = p.Fault.Kind == FaultKind.LeaderMoves
                            ? "leader moves are followed by the producer (NOT_LEADER_FOR_PARTITION, metadata refresh, retry): every event acked, none failed, nothing lost"
                            : "retriable produce errors are retried by the producer: every event acked, none failed, nothing lost. On the mock cluster this does not hold while several produce requests per partition are in flight: the mock stores a later batch of the producer although an earlier one failed (it checks sequence numbers only for transactional producers), and librdkafka, seeing the later batch succeed, acks the earlier one as written (rd_kafka_dr_implicit_ack); Apache Kafka rejects the later batch with OUT_OF_ORDER_SEQUENCE_NUMBER, so this cannot happen there. With --gateway-setting Ingest:Kafka:Producer:max.in.flight.requests.per.connection=1 nothing is lost";
                        checks.Add(new("no delivery_failed", failed == 0, $"{failed} delivery_failed frames"));
                        checks.Add(new("acks went on", end.Acked > p.AtStart.Acked, $"{end.Acked - p.AtStart.Acked:N0} events acked in the phase"));
                        checks.Add(new("the gateway stayed up", sameProcess && exits.Count == 0, $"gateway pid {p.PidBefore} -> {p.PidAfter}"));
                        checks.Add(missingCheck);
                        break;
                    case FaultKind.OutOfOrderSequence:
                        guarantee = "OUT_OF_ORDER_SEQUENCE_NUMBER: what the gateway does is reported; acked events stay safe whether it recovers or stops (the harness restarts a gateway that stops) and clients that resend lose nothing";
                        checks.Add(new("the gateway serves again (restarted by the harness if it stopped)", p.ReadySeconds is not null, $"{readyIn}; gateway pid {p.PidBefore} -> {p.PidAfter}"));
                        checks.Add(missingCheck);
                        break;
                    case FaultKind.Sigkill:
                        guarantee = "SIGKILL mid-load, then a new process: every acked event is in Kafka, clients reconnect and resend, at-least-once holds, duplicates only of events unacked at the kill";
                        checks.Add(new("restarted and ready", p.ReadySeconds is not null && !sameProcess, $"{readyIn}; gateway pid {p.PidBefore} -> {p.PidAfter}"));
                        checks.Add(new("clients reconnected", end.Reconnects - p.AtStart.Reconnects >= options.Clients, $"{end.Reconnects - p.AtStart.Reconnects} reconnects of {options.Clients} clients"));
                        checks.Add(missingCheck);
                        checks.Add(new("duplicates in the phase are of resent (unacked at the kill) events only", ofSentOnce[i] == 0, $"{ofResent[i]:N0} copies of resent events, {ofSentOnce[i]:N0} of events sent once"));
                        break;
                    default:
                        guarantee = "";
                        break;
                }

                var observed = p.Observed;
                if (exits.Count > 0)
                {
                    observed += "; " + string.Join("; ", exits.Select(e => string.Create(CultureInfo.InvariantCulture, $"the gateway (pid {e.ProcessId}) exited by itself with code {e.ExitCode} at {e.AtSeconds:0.0} s{(e.LastCriticalLines.Count > 0 ? $" after: {e.LastCriticalLines[^1]}" : "")}; restarted in {e.RestartSeconds:0.0} s")));
                }

                results.Add(new FaultPhaseResult
                {
                    Fault = p.Fault.Name,
                    Guarantee = guarantee,
                    StartSeconds = Math.Round(p.StartSeconds, 1),
                    RecoveredSeconds = Math.Round(p.RecoveredSeconds, 1),
                    ReadySeconds = p.ReadySeconds is { } r ? Math.Round(r, 1) : null,
                    AcksResumedSeconds = p.AcksResumedSeconds is { } a ? Math.Round(a, 1) : null,
                    EndSeconds = Math.Round(p.EndSeconds, 1),
                    AckedDuringFault = recovered.Acked - p.AtStart.Acked,
                    AckedAfterFault = ackedAfter,
                    DeliveryFailedFrames = failed,
                    RejectedEvents = end.Errored - p.AtStart.Errored,
                    Reconnects = end.Reconnects - p.AtStart.Reconnects,
                    DuplicatesOfResent = ofResent[i],
                    DuplicatesOfSentOnce = ofSentOnce[i],
                    Observed = observed,
                    Checks = checks,
                });
            }

            return (results, unexplained);
        }

        private List<GuaranteeCheck> GlobalChecks(AuditResult audit, long unexplained, int timedCopies, IReadOnlyList<TrendVerdict> trends)
        {
            var t = audit.Totals;
            var checks = new List<GuaranteeCheck>
            {
                new("every acked event is in Kafka", t.MissingAcked == 0, $"{t.MissingAcked:N0} of {t.Acked:N0} acked events missing"),
                // Retention may drop what was read already (a long run passes the mock's 5 MiB per
                // partition): only records it dropped before they were read are lost to the count.
                new("every record of the run between the watermarks was read (none dropped by the mock's retention before it was read)", t.Unread == 0, $"{t.RunRecords:N0} read of {t.WatermarkRecords:N0} by watermarks"),
                new("clients that resend lose nothing: every event sent was acked in the end", t.Unresolved == 0 && t.Rejected == 0 && t.Sent == t.Acked, $"sent {t.Sent:N0}, acked {t.Acked:N0}, rejected and not acked {t.Rejected:N0}, unresolved {t.Unresolved:N0}"),
                new("every duplicate is explained (resent by its client, or a producer retry stored twice by the mock during a broker fault)", unexplained == 0, $"{t.Duplicates:N0} duplicates: {t.DuplicatesOfResent:N0} of resent events, {t.DuplicatesOfSentOnce:N0} of events sent once; {unexplained:N0} unexplained ({timedCopies:N0} copies placed in time)"),
            };
            if (options.TrendGate)
            {
                var grows = trends.Where(v => v.Verdict == "GROWS").Select(v => v.Series).ToList();
                checks.Add(new("no resource of the gateway grows (trend check)", grows.Count == 0, grows.Count == 0 ? "every series FLAT or n/a" : "GROWS: " + string.Join(", ", grows)));
            }

            return checks;
        }

        /// <summary>A line every 10 s on stderr (the run can last an hour).</summary>
        private async Task ProgressAsync(CancellationToken cancellationToken)
        {
            try
            {
                while (true)
                {
                    await Task.Delay(TimeSpan.FromSeconds(10), cancellationToken).ConfigureAwait(false);
                    await log.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
                        $"{Now,7:0.0} s  sent {Interlocked.Read(ref _stats.EventsSent),12:N0}  acked {Interlocked.Read(ref _stats.EventsAcked),12:N0}  delivery_failed {Interlocked.Read(ref _stats.DeliveryFailures),6:N0}  open {Interlocked.Read(ref _stats.ConnectionsOpen),5:N0}  reconnects {Interlocked.Read(ref _stats.Reconnects),6:N0}  gateway pid {host.Current?.ProcessId}")).ConfigureAwait(false);
                }
            }
            catch (OperationCanceledException)
            {
            }
        }
    }

    private sealed record Counters(long Acked, long DeliveryFailures, long Errored, long Reconnects);

    private sealed class PhaseWindow(FaultSpec fault, double startSeconds, Counters atStart)
    {
        public FaultSpec Fault { get; } = fault;
        public double StartSeconds { get; } = startSeconds;
        public Counters AtStart { get; } = atStart;
        public double RecoveredSeconds { get; set; }
        public Counters? AtRecovered { get; set; }
        public double? ReadySeconds { get; set; }
        public double? AcksResumedSeconds { get; set; }
        public double EndSeconds { get; set; } = double.MaxValue;
        public Counters? AtEnd { get; set; }
        public int PidBefore { get; set; }
        public int PidAfter { get; set; }
        public string Observed { get; set; } = "";
        public int[] SentAtStart { get; init; } = [];
        public int[]? SentAtEnd { get; set; }
    }
}
