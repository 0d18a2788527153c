using System.Globalization;
using Ingest.Kafka;
using Ingest.Kafka.Embedded;
using Ingest.LoadTest.Engine;
using Ingest.LoadTest.Metrics;
using Ingest.LoadTest.Reports;

namespace Ingest.LoadTest.Bench;

/// <summary>
/// The <c>bench</c> command. On one embedded broker (hosted by this process, 8 partitions) it
/// measures, in rounds that alternate, (a) a raw Confluent.Kafka producer writing key and value only,
/// (b) the gateway's own producer (<c>NativeProducer</c>) alone writing the gateway's record (its
/// ingest-source header), both in a process of their own (<see cref="RawProducerProcess"/>), and (c) the gateway (a process of its own) end to end; then
/// the latency of the raw producer and of the gateway at one fixed moderate rate; then the first
/// events of a freshly started gateway (cold start); then the gateway's resident memory per idle
/// connection. CPU per event is always one process's own: the raw producer's, or the gateway's.
/// </summary>
internal static class BenchRunner
{
    private static readonly TimeSpan WatermarkTimeout = TimeSpan.FromSeconds(10);

    public static async Task<int> RunAsync(BenchOptions options, TextWriter log, CancellationToken cancellationToken)
    {
        var gatewayDll = options.GatewayDll ?? GatewayProcess.FindGatewayDll();
        if (gatewayDll is null || !File.Exists(gatewayDll))
        {
            await log.WriteLineAsync("Ingest.Gateway.dll not found: build the solution (dotnet build Ingest.sln -c Release) or pass --gateway <path>.").ConfigureAwait(false);
            return 2;
        }

        GatewayEnvironment environment;
        try
        {
            environment = GatewayEnvironment.Load(options.GatewayEnv);
        }
        catch (IOException e)
        {
            await log.WriteLineAsync(e.Message).ConfigureAwait(false);
            return 2;
        }

        await log.WriteLineAsync($"gateway environment: {environment.Summary()}").ConfigureAwait(false);
        var result = new BenchResult
        {
            Connections = options.Connections,
            Events = options.Events,
            Batch = options.Batch,
            Window = options.Window,
            Partitions = options.Partitions,
            Cores = Environment.ProcessorCount,
            GatewayEnvironment = environment.Summary(),
            GatewayEnvironmentApplied = [.. environment.Applied.Select(p => $"{p.Key}={p.Value}")],
            GatewayEnvironmentSkipped = environment.Skipped,
        };

        using var cluster = EmbeddedKafkaCluster.Start(brokerCount: 1);
        var suffix = Guid.NewGuid().ToString("N")[..8];
        var topics = new BenchTopics(suffix);
        foreach (var topic in topics.All)
        {
            cluster.CreateTopic(topic, options.Partitions);
        }

        var bootstrap = cluster.BootstrapServers;
        var runId = $"b{suffix}";
        var clientOptions = new LoadClientOptions { Window = options.Window };
        var perClient = options.Events / options.Connections;
        await using (var rawProducer = RawProducerProcess.Start(bootstrap, options.Connections))
        await using (var gateway = await GatewayProcess.StartAsync(gatewayDll, GatewaySettings(bootstrap, topics.Gateway), environment, cancellationToken).ConfigureAwait(false))
        {
            // Warm-ups: the raw producer a quarter of the events in each shape (to a topic of its
            // own); the gateway the same load as a round (a shorter one left the JIT still tiering
            // up during the measured run).
            var warmEvents = Math.Max(1, options.Events / 4);
            await log.WriteLineAsync($"warm-up: raw producer pid {rawProducer.ProcessId} ({warmEvents:N0} events in each shape), gateway pid {gateway.ProcessId} at {gateway.WebSocketUri} ({options.Connections} x {perClient:N0} events)...").ConfigureAwait(false);
            await rawProducer.RunAsync(topics.RawWarm, warmEvents, RecordShape.None, cancellationToken).ConfigureAwait(false);
            await rawProducer.RunAsync(topics.RawWarm, warmEvents, RecordShape.Gateway, cancellationToken, RawProducerCommand.Native).ConfigureAwait(false);

            await LoadDriver.RunAsync(gateway.WebSocketUri, options.Connections, clientOptions, new LoadStats(),
                LoadDriver.AsFastAsAcked(runId + "w", perClient, options.Batch), TimeSpan.FromMinutes(2), cancellationToken).ConfigureAwait(false);

            // (a), (b) and (c) alternate for --rounds rounds on warm processes (this machine is
            // noisy: the report takes the round with the median CPU ratio and lists every round).
            var rounds = new List<BenchRound>();
            for (var round = 1; round <= options.Rounds; round++)
            {
                var of = $"round {round}/{options.Rounds}";
                await log.WriteLineAsync($"{of}: (a) raw producer, no headers, {options.Events:N0} events...").ConfigureAwait(false);
                var raw = await MeasureRawAsync(rawProducer, bootstrap, topics.RawNone, options.Events, RecordShape.None, cancellationToken).ConfigureAwait(false);
                await log.WriteLineAsync($"{of}: (b) the gateway's producer alone, the gateway's record shape, {options.Events:N0} events...").ConfigureAwait(false);
                var shaped = await MeasureRawAsync(rawProducer, bootstrap, topics.RawGateway, options.Events, RecordShape.Gateway, cancellationToken, RawProducerCommand.Native).ConfigureAwait(false);
                await log.WriteLineAsync($"{of}: (c) gateway, {options.Connections} connections x {perClient:N0} events, window {options.Window}...").ConfigureAwait(false);
                var full = await MeasureGatewayAsync(gateway, bootstrap, topics.Gateway, options.Connections, clientOptions,
                    LoadDriver.AsFastAsAcked($"{runId}r{round}", perClient, options.Batch), readStats: true, cancellationToken).ConfigureAwait(false);
                var r = new BenchRound(round, raw, shaped, full);
                rounds.Add(r);
                await log.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
                    $"{of}: events/s {raw.EventsPerSecond:N0} / {shaped.EventsPerSecond:N0} / {full.EventsPerSecond:N0}, CPU us/event {raw.CpuMicrosecondsPerEvent:0.0} / {shaped.CpuMicrosecondsPerEvent:0.0} / {full.CpuMicrosecondsPerEvent:0.0}, gateway/raw CPU {r.CpuRatioVsRaw:0.00}x{(r.Passed ? "" : "  COUNTS DIFFER")}")).ConfigureAwait(false);
            }

            result.Rounds = rounds;
            result.MedianRound = BenchResult.MedianRoundOf(rounds);

            // Latency at one fixed moderate rate: the raw producer's delivery latency in its process,
            // then the gateway's send-to-ack, both from each event's scheduled time.
            await log.WriteLineAsync($"latency: raw producer paced at {options.LatencyRate:N0} events/s for {options.PacedSeconds} s...").ConfigureAwait(false);
            var landed0 = TopicWatermarks.CountAppended(bootstrap, topics.RawPaced, WatermarkTimeout);
            var rawPaced = await rawProducer.PacedAsync(topics.RawPaced, options.LatencyRate, options.PacedSeconds, RecordShape.None, cancellationToken).ConfigureAwait(false);
            result.RawPaced = rawPaced;
            result.RawPacedLanded = TopicWatermarks.CountAppended(bootstrap, topics.RawPaced, WatermarkTimeout) - landed0;
            result.GatewayPaced = await MeasurePacedAsync(gateway, bootstrap, topics.Gateway, options, options.LatencyRate, runId + "p", log, cancellationToken).ConfigureAwait(false);
            if (options.PacedHalfMax)
            {
                var half = (int)Math.Max(1, result.Median!.Gateway.EventsPerSecond / 2);
                result.GatewayPacedHalfMax = await MeasurePacedAsync(gateway, bootstrap, topics.Gateway, options, half, runId + "h", log, cancellationToken).ConfigureAwait(false);
            }

            // The warm gateway's own histograms, after everything it was measured on (outside every CPU window).
            result.GatewayMetrics = await GatewayMetricsScraper.ScrapeAsync(new Uri(gateway.HttpUri, "/metrics"), cancellationToken).ConfigureAwait(false);
            await log.WriteLineAsync(result.GatewayMetrics.Headline).ConfigureAwait(false);
        }

        // Cold start: a fresh gateway process, loaded the moment /readyz answers 200, with the
        // harness (clients and broker) already warm from the rounds.
        await log.WriteLineAsync($"cold start: a fresh gateway, then at once {options.Connections} connections x {options.ColdEvents / options.Connections:N0} events...").ConfigureAwait(false);
        await using (var cold = await GatewayProcess.StartAsync(gatewayDll, GatewaySettings(bootstrap, topics.Cold), environment, cancellationToken).ConfigureAwait(false))
        {
            var cpuAtReady = cold.CpuTime;
            var load = await MeasureGatewayAsync(cold, bootstrap, topics.Cold, options.Connections, clientOptions,
                LoadDriver.AsFastAsAcked(runId + "c", options.ColdEvents / options.Connections, options.Batch), readStats: false, cancellationToken).ConfigureAwait(false);
            result.Cold = new ColdStart(load, cold.StartupTime.TotalSeconds, cpuAtReady.TotalSeconds);
            await log.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
                $"cold start: ready after {cold.StartupTime.TotalSeconds:0.00} s, {load.EventsPerSecond:N0} events/s, CPU us/event {result.Cold.CpuMicrosecondsPerEventFromStart:0.0} from process start, {load.CpuMicrosecondsPerEvent:0.0} from the load")).ConfigureAwait(false);
        }

        // Memory per idle connection, on a fresh gateway process.
        await MeasureIdleMemoryAsync(gatewayDll, GatewaySettings(bootstrap, topics.Memory), environment, options, result, $"m{suffix}", log, cancellationToken).ConfigureAwait(false);

        result.Failures = result.CheckCounts();
        BenchReport.WriteToConsole(result);
        var files = await BenchReport.WriteFilesAsync(result, options.ResultsDirectory, cancellationToken).ConfigureAwait(false);
        await log.WriteLineAsync($"Results: {files}").ConfigureAwait(false);
        foreach (var failure in result.Failures)
        {
            await log.WriteLineAsync($"FAILED: {failure}").ConfigureAwait(false);
        }

        return result.Passed ? 0 : 1;
    }

    /// <summary>One run of the raw producer process; the harness's CPU meanwhile is the broker's.</summary>
    private static async Task<RawMeasure> MeasureRawAsync(RawProducerProcess producer, string bootstrap, string topic, int events, string shape, CancellationToken cancellationToken, string client = RawProducerCommand.Confluent)
    {
        var landed0 = TopicWatermarks.CountAppended(bootstrap, topic, WatermarkTimeout);
        var brokerCpu0 = ProcessProbe.CpuTime(Environment.ProcessId);
        var run = await producer.RunAsync(topic, events, shape, cancellationToken, client).ConfigureAwait(false);
        var brokerCpu = ProcessProbe.CpuTime(Environment.ProcessId) - brokerCpu0;
        var landed = TopicWatermarks.CountAppended(bootstrap, topic, WatermarkTimeout) - landed0;
        return new RawMeasure(shape, run.Produced, run.Delivered, run.Failed, landed, run.Seconds, run.CpuSeconds, brokerCpu.TotalSeconds);
    }

    /// <summary>
    /// One load against the gateway. Landed is the difference of the topic's high watermarks, which
    /// the embedded broker's retention (5 MiB per partition) never lowers. <c>/stats</c> (allocations,
    /// acks, GCs) is read before and after when <paramref name="readStats"/>, outside the CPU window.
    /// </summary>
    private static async Task<GatewayMeasure> MeasureGatewayAsync(
        GatewayProcess gateway,
        string bootstrap,
        string topic,
        int connections,
        LoadClientOptions clientOptions,
        Func<int, LoadClient, CancellationToken, Task> body,
        bool readStats,
        CancellationToken cancellationToken)
    {
        var landed0 = TopicWatermarks.CountAppended(bootstrap, topic, WatermarkTimeout);
        var stats = new LoadStats();
        var before = readStats ? await gateway.GetStatsAsync(cancellationToken).ConfigureAwait(false) : null;
        var gatewayCpu0 = gateway.CpuTime;
        var harnessCpu0 = ProcessProbe.CpuTime(Environment.ProcessId);
        var elapsed = await LoadDriver.RunAsync(gateway.WebSocketUri, connections, clientOptions, stats, body, TimeSpan.FromMinutes(5), cancellationToken).ConfigureAwait(false);
        var gatewayCpu = gateway.CpuTime;
        var harnessCpu = ProcessProbe.CpuTime(Environment.ProcessId) - harnessCpu0;
        var after = readStats ? await gateway.GetStatsAsync(cancellationToken).ConfigureAwait(false) : null;
        var landed = TopicWatermarks.CountAppended(bootstrap, topic, WatermarkTimeout) - landed0;
        return new GatewayMeasure(
            stats.EventsSent,
            stats.EventsAcked,
            stats.EventsErrored,
            landed,
            stats.MessagesSent,
            elapsed.TotalSeconds,
            (gatewayCpu - gatewayCpu0).TotalSeconds,
            gatewayCpu.TotalSeconds,
            harnessCpu.TotalSeconds,
            before is null || after is null ? null : after.AllocatedBytes - before.AllocatedBytes,
            before is null || after is null ? null : after.AcksSent - before.AcksSent,
            before is null || after is null ? null : after.Gen0Collections - before.Gen0Collections,
            stats.AckLatency.Summarize());
    }

    /// <summary>
    /// The gateway at <paramref name="rate"/> events/s in total for --paced-seconds: every connection
    /// sends one message every connections x batch / rate seconds on a fixed schedule, its latency
    /// counted from the scheduled time.
    /// </summary>
    private static async Task<GatewayPaced> MeasurePacedAsync(
        GatewayProcess gateway, string bootstrap, string topic, BenchOptions options, int rate, string runId, TextWriter log, CancellationToken cancellationToken)
    {
        var perClient = (int)Math.Max(options.Batch, (long)rate * options.PacedSeconds / options.Connections);
        var interval = TimeSpan.FromSeconds((double)options.Connections * options.Batch / rate);
        await log.WriteLineAsync($"latency: gateway paced at {rate:N0} events/s ({options.Connections} connections, one message every {interval.TotalMilliseconds:0.###} ms each) for {options.PacedSeconds} s...").ConfigureAwait(false);
        var pause0 = (await gateway.GetStatsAsync(cancellationToken).ConfigureAwait(false)).GcPauseMs;
        var lag = new LatencyHistogram();
        var measure = await MeasureGatewayAsync(gateway, bootstrap, topic, options.Connections, new LoadClientOptions { Window = options.Window },
            LoadDriver.Paced(runId, perClient, options.Batch, interval, lag, latencyFromSchedule: true), readStats: false, cancellationToken).ConfigureAwait(false);
        var pauses = (await gateway.GetStatsAsync(cancellationToken).ConfigureAwait(false)).GcPauseMs - pause0;
        return new GatewayPaced(rate, measure, lag.Summarize(), pauses);
    }

    /// <summary>
    /// RSS per idle connection: a fresh gateway, warmed up by 64 clients x 100 events, RSS read 2 s
    /// after they closed; then --idle-connections idle connections, RSS again once <c>/stats</c>
    /// counts them all plus 2 s.
    /// </summary>
    private static async Task MeasureIdleMemoryAsync(
        string gatewayDll, Dictionary<string, string> settings, GatewayEnvironment environment, BenchOptions options, BenchResult result, string runId, TextWriter log, CancellationToken cancellationToken)
    {
        await using var gateway = await GatewayProcess.StartAsync(gatewayDll, settings, environment, cancellationToken).ConfigureAwait(false);
        await log.WriteLineAsync($"memory: gateway pid {gateway.ProcessId}: warm-up, then {options.IdleConnections:N0} idle connections...").ConfigureAwait(false);
        await LoadDriver.RunAsync(gateway.WebSocketUri, 64, new LoadClientOptions(), new LoadStats(),
            LoadDriver.AsFastAsAcked(runId, 100, 1), TimeSpan.FromMinutes(1), cancellationToken).ConfigureAwait(false);
        await WaitForActiveConnectionsAsync(gateway, 0, cancellationToken).ConfigureAwait(false);
        await Task.Delay(TimeSpan.FromSeconds(2), cancellationToken).ConfigureAwait(false); // let the warm-up's garbage settle before the baseline
        var before = gateway.ResidentBytes;
        var idleStats = new LoadStats();
        // A client whose handshake is refused retries for ever: give the whole part a deadline.
        using var connectDeadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        connectDeadline.CancelAfter(IdleConnectTimeout);
        LoadClient[] idle;
        try
        {
            idle = await LoadDriver.ConnectAsync(gateway.WebSocketUri, options.IdleConnections, new LoadClientOptions(), idleStats, connectDeadline.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new InvalidOperationException(
                $"{options.IdleConnections:N0} idle connections did not all connect within {IdleConnectTimeout.TotalMinutes:0} minutes: the gateway refused some (see its connection limits, docs/operations.md \"Limits\").");
        }

        try
        {
            await WaitForActiveConnectionsAsync(gateway, options.IdleConnections, cancellationToken).ConfigureAwait(false);
            await Task.Delay(TimeSpan.FromSeconds(2), cancellationToken).ConfigureAwait(false);
            var after = gateway.ResidentBytes;
            result.IdleConnections = options.IdleConnections;
            result.RssBeforeBytes = before;
            result.RssAfterBytes = after;
            result.BytesPerIdleConnection = (double)(after - before) / options.IdleConnections;
        }
        finally
        {
            await LoadDriver.DisposeAllAsync(idle).ConfigureAwait(false);
        }
    }

    /// <summary>How long the memory part may take to open its idle connections.</summary>
    private static readonly TimeSpan IdleConnectTimeout = TimeSpan.FromMinutes(3);

    private static Dictionary<string, string> GatewaySettings(string bootstrapServers, string topic) => new()
    {
        ["Ingest:Kafka:BootstrapServers"] = bootstrapServers,
        ["Ingest:Kafka:Topic"] = topic,
        ["Ingest:Kafka:DeadLetterTopic"] = topic + ".dlq",
        ["Serilog:MinimumLevel:Default"] = "Warning",
        // Every client of the bench comes from one address: the per-address limit (1,000 by
        // default, docs/operations.md "Limits") is not what is measured.
        ["Ingest:Limits:MaxConnectionsPerAddress"] = "1000000",
    };

    private static async Task WaitForActiveConnectionsAsync(GatewayProcess gateway, long count, CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(TimeSpan.FromSeconds(60));
        while ((await gateway.GetStatsAsync(timeout.Token).ConfigureAwait(false)).ConnectionsActive != count)
        {
            await Task.Delay(100, timeout.Token).ConfigureAwait(false);
        }
    }

    /// <summary>The bench's topics on the embedded broker; one per measured kind, counted by high watermarks.</summary>
    private sealed record BenchTopics(string Suffix)
    {
        public string RawWarm => $"bench-raw-warm-{Suffix}";

        public string RawNone => $"bench-raw-none-{Suffix}";

        public string RawGateway => $"bench-raw-gateway-{Suffix}";

        public string RawPaced => $"bench-raw-paced-{Suffix}";

        public string Gateway => $"bench-gw-{Suffix}";

        public string Cold => $"bench-cold-{Suffix}";

        public string Memory => $"bench-mem-{Suffix}";

        public IEnumerable<string> All =>
            [RawWarm, RawNone, RawGateway, RawPaced, Gateway, Gateway + ".dlq", Cold, Cold + ".dlq", Memory, Memory + ".dlq"];
    }
}
