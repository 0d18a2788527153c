using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text;
using Ingest.Kafka;
using Ingest.Kafka.Embedded;
using Ingest.LoadTest.Engine;

namespace Ingest.LoadTest.Bench;

/// <summary>Settings of the <c>idle-bench</c> command.</summary>
internal sealed record IdleBenchOptions
{
    /// <summary>Connections held open at once, the active ones included.</summary>
    public int Connections { get; init; } = 19_000;

    /// <summary>Connections among them that send, paced, after the memory is measured.</summary>
    public int Active { get; init; } = 100;

    /// <summary>Events per second each active connection sends (one per message).</summary>
    public int EventsPerSecond { get; init; } = 10;

    /// <summary>How long the active connections send.</summary>
    public int Seconds { get; init; } = 10;

    /// <summary>Handshakes in flight at once while connecting.</summary>
    public int ConnectParallelism { get; init; } = 200;

    /// <summary>Addresses the clients connect from, round-robin; null: 127.0.0.1 alone up to 20,000 connections, more addresses beyond.</summary>
    public IReadOnlyList<IPAddress>? SourceAddresses { get; init; }

    /// <summary>Seconds to hold still at the baseline and again with every connection idle, for outside tools (dotnet-gcdump, dotnet-counters).</summary>
    public int HoldSeconds { get; init; }

    /// <summary>Extra gateway settings (<c>Key=Value</c>), e.g. for an A/B of one option.</summary>
    public IReadOnlyDictionary<string, string> GatewaySettings { get; init; } = new Dictionary<string, string>();

    public string? GatewayDll { get; init; }

    public string ResultsDirectory { get; init; } = "results";
}

/// <summary>
/// The <c>idle-bench</c> command: many idle WebSocket connections on one gateway process (the
/// clients in this process, the embedded broker too), the gateway's resident memory per idle
/// connection, and the send-to-ack latency of a few active connections among them. Checks that
/// every acked event landed in Kafka, that no idle connection was dropped and that the gateway
/// is still up; prints a Markdown table (and writes it under the results folder).
/// </summary>
internal static class IdleConnectionsBench
{
    /// <summary>Descriptors this process needs besides its client sockets: the runtime, the embedded broker, pipes to the gateway.</summary>
    private const int HarnessDescriptorReserve = 300;

    /// <summary>What the gateway keeps of its descriptor limit for other things than WebSockets (docs/operations.md, "Limits": 256 reserved + 512 HTTP + 32 closing).</summary>
    private const int GatewayDescriptorOverhead = 256 + 512 + 32;

    /// <summary>Connections per source address before more addresses are used by default: below the ~28,000 ephemeral ports of one.</summary>
    private const int DefaultConnectionsPerAddress = 20_000;

    public static async Task<int> RunAsync(IdleBenchOptions options, TextWriter log, CancellationToken cancellationToken)
    {
        var gatewayDll = options.GatewayDll ?? GatewayProcess.FindGatewayDll();
        if (gatewayDll is null || !File.Exists(gatewayDll))
        {
            await log.WriteLineAsync("Ingest.Gateway.dll not found: build the solution (dotnet build Ingest.sln -c Release) or pass --gateway <path>.").ConfigureAwait(false);
            return 2;
        }

        if (options.Active > options.Connections)
        {
            await log.WriteLineAsync($"--active ({options.Active}) cannot exceed --connections ({options.Connections}).").ConfigureAwait(false);
            return 2;
        }

        // Every client socket is a descriptor of this process, and the gateway started below
        // inherits the soft limit in force here: raise it to the hard limit first.
        var before = DescriptorLimit.Get();
        var (soft, hard) = DescriptorLimit.RaiseSoftToHard();
        await log.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
            $"descriptors (ulimit -n): soft {soft:N0}{(before.Soft < soft ? $" (raised from {before.Soft:N0})" : "")}, hard {hard:N0}; this process holds {DescriptorLimit.OpenNow():N0}")).ConfigureAwait(false);
        if (soft < (long)options.Connections + HarnessDescriptorReserve)
        {
            await log.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
                $"{options.Connections:N0} connections need about {options.Connections + HarnessDescriptorReserve:N0} descriptors in this process, and the limit is {soft:N0}: raise the hard limit (ulimit -Hn, LimitNOFILE=) or ask for fewer --connections.")).ConfigureAwait(false);
            return 2;
        }

        if (!options.GatewaySettings.ContainsKey("Ingest:WebSocket:MaxConnections") && soft - GatewayDescriptorOverhead < options.Connections)
        {
            await log.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
                $"The gateway inherits {soft:N0} descriptors and so serves at most {soft - GatewayDescriptorOverhead:N0} WebSockets (docs/operations.md, Limits): ask for fewer --connections.")).ConfigureAwait(false);
            return 2;
        }

        var addresses = options.SourceAddresses
            ?? (options.Connections > DefaultConnectionsPerAddress ? SourceAddresses.LoopbackFor(options.Connections, DefaultConnectionsPerAddress) : null);
        using var sources = addresses is null ? null : SourceAddresses.Create(addresses);
        var clientOptions = new LoadClientOptions { SourceAddresses = sources, ConnectTimeout = TimeSpan.FromSeconds(30) };

        var result = new IdleBenchResult
        {
            Connections = options.Connections,
            Active = options.Active,
            EventsPerSecond = options.EventsPerSecond,
            Seconds = options.Seconds,
            SourceAddresses = sources?.ToString() ?? "127.0.0.1 (kernel's choice)",
            HarnessDescriptorLimit = soft,
        };

        using var cluster = EmbeddedKafkaCluster.Start(brokerCount: 1);
        var suffix = Guid.NewGuid().ToString("N")[..8];
        var topic = $"idle-{suffix}";
        cluster.CreateTopic(topic, 8);
        cluster.CreateTopic(topic + ".dlq", 8);
        var settings = new Dictionary<string, string>
        {
            ["Ingest:Kafka:BootstrapServers"] = cluster.BootstrapServers,
            ["Ingest:Kafka:Topic"] = topic,
            ["Ingest:Kafka:DeadLetterTopic"] = topic + ".dlq",
            // A few source addresses carry every connection here: the per-address limit is not what is measured.
            ["Ingest:Limits:MaxConnectionsPerAddress"] = (options.Connections + 1_000).ToString(CultureInfo.InvariantCulture),
            ["Serilog:MinimumLevel:Default"] = "Warning",
        };
        foreach (var (key, value) in options.GatewaySettings)
        {
            settings[key] = value;
        }

        await using (var gateway = await GatewayProcess.StartAsync(gatewayDll, settings, cancellationToken).ConfigureAwait(false))
        {
            result.GatewayDescriptorLimit = ProcessDescriptorLimit(gateway.ProcessId);
            await log.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
                $"gateway pid {gateway.ProcessId} at {gateway.WebSocketUri}, descriptor limit {result.GatewayDescriptorLimit:N0}; clients from {result.SourceAddresses}; warm-up (64 connections x 100 events)...")).ConfigureAwait(false);
            await LoadDriver.RunAsync(gateway.WebSocketUri, 64, clientOptions, new LoadStats(),
                LoadDriver.AsFastAsAcked($"i{suffix}w", 100, 1), TimeSpan.FromMinutes(1), cancellationToken).ConfigureAwait(false);
            await WaitForConnectionsAsync(gateway, 0, TimeSpan.FromSeconds(60), cancellationToken).ConfigureAwait(false);
            (result.RssBeforeBytes, var settledBefore) = await SteadyResidentBytesAsync(gateway, cancellationToken).ConfigureAwait(false);
            result.GatewayDescriptorsBefore = DescriptorLimit.OpenBy(gateway.ProcessId);
            await log.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
                $"baseline RSS {Mib(result.RssBeforeBytes)} MiB (steady after {settledBefore.TotalSeconds:0.0} s), {result.GatewayDescriptorsBefore:N0} descriptors")).ConfigureAwait(false);
            await HoldAsync(options, gateway, "baseline", log, cancellationToken).ConfigureAwait(false);
            await log.WriteLineAsync($"connecting {options.Connections:N0} clients, {options.ConnectParallelism} at a time...").ConfigureAwait(false);
            var gc0 = await gateway.GetStatsAsync(cancellationToken).ConfigureAwait(false);

            var idleStats = new LoadStats();
            var activeStats = new LoadStats();
            var connecting = Stopwatch.StartNew();
            var lastReport = 0L;
            void Progress(int count)
            {
                var now = connecting.ElapsedMilliseconds;
                var last = Interlocked.Read(ref lastReport);
                if (now - last >= 5_000 && Interlocked.CompareExchange(ref lastReport, now, last) == last)
                {
                    log.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  {Volatile.Read(ref idleStats.ConnectionsOpen) + Volatile.Read(ref activeStats.ConnectionsOpen):N0} connected after {now / 1000.0:0.0} s"));
                }
            }

            // The idle ones first, then the active ones: all of them idle while memory is measured.
            // Clients retry refused handshakes for ever: a deadline turns a gateway that will not take
            // them all into a failed run instead of a hung one.
            using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            deadline.CancelAfter(ConnectDeadline(options.Connections));
            LoadClient[] idle, active = [];
            try
            {
                idle = await LoadDriver.ConnectAsync(gateway.WebSocketUri, options.Connections - options.Active, clientOptions, idleStats,
                    options.ConnectParallelism, Progress, deadline.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (deadline.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
            {
                await log.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
                    $"Only {Volatile.Read(ref idleStats.ConnectionsOpen):N0} of {options.Connections:N0} connected within {ConnectDeadline(options.Connections).TotalSeconds:0} s ({idleStats.ConnectFailures:N0} failed attempts): is the gateway at a limit?")).ConfigureAwait(false);
                return 1;
            }

            try
            {
                active = await LoadDriver.ConnectAsync(gateway.WebSocketUri, options.Active, clientOptions, activeStats,
                    options.ConnectParallelism, Progress, deadline.Token).ConfigureAwait(false);
                result.ConnectSeconds = connecting.Elapsed.TotalSeconds;
                await log.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
                    $"{options.Connections:N0} connected in {result.ConnectSeconds:0.0} s ({options.Connections / result.ConnectSeconds:N0}/s, {idleStats.ConnectFailures + activeStats.ConnectFailures} failed attempts retried); waiting for /stats to count them...")).ConfigureAwait(false);
                await WaitForConnectionsAsync(gateway, options.Connections, TimeSpan.FromSeconds(120), cancellationToken).ConfigureAwait(false);
                (result.RssIdleBytes, var settledIdle) = await SteadyResidentBytesAsync(gateway, cancellationToken).ConfigureAwait(false);
                var gc1 = await gateway.GetStatsAsync(cancellationToken).ConfigureAwait(false);
                result.StatsConnectionsIdle = gc1.ConnectionsActive;
                result.ConnectGc = (gc1.GcPauseMs - gc0.GcPauseMs, gc1.Gen2Collections - gc0.Gen2Collections);
                result.GatewayDescriptorsIdle = DescriptorLimit.OpenBy(gateway.ProcessId);
                result.HarnessDescriptorsIdle = DescriptorLimit.OpenNow();
                await log.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
                    $"RSS {Mib(result.RssIdleBytes)} MiB with {result.StatsConnectionsIdle:N0} connections (steady after {settledIdle.TotalSeconds:0.0} s): {result.BytesPerIdleConnection / 1024:0.0} KB each; gateway {result.GatewayDescriptorsIdle:N0} descriptors, harness {result.HarnessDescriptorsIdle:N0}")).ConfigureAwait(false);

                await HoldAsync(options, gateway, "idle connections", log, cancellationToken).ConfigureAwait(false);

                // The active ones send, paced, while the others stay idle.
                await log.WriteLineAsync($"{options.Active} connections send {options.EventsPerSecond} events/s each for {options.Seconds} s while {options.Connections - options.Active:N0} stay idle...").ConfigureAwait(false);
                var landed0 = TopicWatermarks.CountAppended(cluster.BootstrapServers, topic, TimeSpan.FromSeconds(10));
                var gc2 = await gateway.GetStatsAsync(cancellationToken).ConfigureAwait(false);
                var lag = new LatencyHistogram();
                var body = LoadDriver.Paced($"i{suffix}a", options.EventsPerSecond * options.Seconds, 1, TimeSpan.FromSeconds(1.0 / options.EventsPerSecond), lag);
                var sending = Stopwatch.StartNew();
                await Task.WhenAll(active.Select((client, i) => Task.Run(() => body(i, client, cancellationToken), cancellationToken))).ConfigureAwait(false);
                using (var drain = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken))
                {
                    drain.CancelAfter(TimeSpan.FromSeconds(60));
                    try
                    {
                        await Task.WhenAll(active.Select(c => c.WaitUntilDrainedAsync(drain.Token))).ConfigureAwait(false);
                    }
                    catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
                    {
                        // Reported as sent but not acked.
                    }
                }

                result.ActiveSeconds = sending.Elapsed.TotalSeconds;
                result.Sent = activeStats.EventsSent;
                result.Acked = activeStats.EventsAcked;
                result.Errored = activeStats.EventsErrored;
                result.AckLatency = activeStats.AckLatency.Summarize();
                result.ScheduleLag = lag.Summarize();
                result.Landed = TopicWatermarks.CountAppended(cluster.BootstrapServers, topic, TimeSpan.FromSeconds(10)) - landed0;
                result.RssActiveBytes = gateway.ResidentBytes;
                var gc3 = await gateway.GetStatsAsync(cancellationToken).ConfigureAwait(false);
                result.StatsConnectionsAfter = gc3.ConnectionsActive;
                result.ActiveGc = (gc3.GcPauseMs - gc2.GcPauseMs, gc3.Gen2Collections - gc2.Gen2Collections);
                result.GatewayUp = Directory.Exists($"/proc/{gateway.ProcessId}") && await IsLiveAsync(gateway, cancellationToken).ConfigureAwait(false);
                result.Reconnects = idleStats.Reconnects + activeStats.Reconnects;
                result.ClientsOpenAfter = Volatile.Read(ref idleStats.ConnectionsOpen) + Volatile.Read(ref activeStats.ConnectionsOpen);
            }
            finally
            {
                await log.WriteLineAsync($"closing {idle.Length + active.Length:N0} connections...").ConfigureAwait(false);
                var closing = Stopwatch.StartNew();
                await LoadDriver.DisposeAllAsync(idle.Concat(active)).ConfigureAwait(false);
                await log.WriteLineAsync(string.Create(CultureInfo.InvariantCulture, $"closed in {closing.Elapsed.TotalSeconds:0.0} s")).ConfigureAwait(false);
            }
        }

        result.Passed = result.GatewayUp
            && result.StatsConnectionsIdle == options.Connections
            && result.StatsConnectionsAfter == options.Connections
            && result.Reconnects == 0
            && result.Sent == (long)options.Active * options.EventsPerSecond * options.Seconds
            && result.Acked == result.Sent
            && result.Errored == 0
            && result.Landed == result.Acked;
        var report = Render(result);
        await Console.Out.WriteLineAsync(report).ConfigureAwait(false);
        Directory.CreateDirectory(options.ResultsDirectory);
        var file = Path.Combine(options.ResultsDirectory, $"idle-bench-{DateTime.UtcNow:yyyyMMdd-HHmmss}.md");
        await File.WriteAllTextAsync(file, report, cancellationToken).ConfigureAwait(false);
        await log.WriteLineAsync($"Results: {file}").ConfigureAwait(false);
        return result.Passed ? 0 : 1;
    }

    /// <summary>The Markdown table of a run.</summary>
    internal static string Render(IdleBenchResult r)
    {
        var text = new StringBuilder();
        void Row(string measure, string value) => text.Append(CultureInfo.InvariantCulture, $"| {measure} | {value} |\n");
        text.Append(CultureInfo.InvariantCulture, $"## idle-bench: {r.Connections:N0} connections, {r.Active} active ({(r.Passed ? "PASSED" : "FAILED")})\n\n");
        text.Append("| Measure | Value |\n|---|---:|\n");
        Row("connections held (clients / gateway's /stats)", $"{r.ClientsOpenAfter:N0} / {r.StatsConnectionsIdle:N0}");
        Row("client source addresses", r.SourceAddresses);
        Row("connect time, s (connections/s)", Invariant($"{r.ConnectSeconds:0.0} ({(r.ConnectSeconds > 0 ? r.Connections / r.ConnectSeconds : 0):N0})"));
        Row("gateway RSS before / with idle connections, MiB", $"{Mib(r.RssBeforeBytes)} / {Mib(r.RssIdleBytes)}");
        Row("**RSS per idle connection, KB**", Invariant($"**{r.BytesPerIdleConnection / 1024:0.0}**"));
        Row("gateway GC pauses while connecting, ms (gen2 collections)", Invariant($"{r.ConnectGc.PauseMs:N0} ({r.ConnectGc.Gen2})"));
        Row("gateway descriptors before / idle (limit)", Invariant($"{r.GatewayDescriptorsBefore:N0} / {r.GatewayDescriptorsIdle:N0} ({r.GatewayDescriptorLimit:N0})"));
        Row("harness descriptors idle (limit)", Invariant($"{r.HarnessDescriptorsIdle:N0} ({r.HarnessDescriptorLimit:N0})"));
        Row("active: events/s each x s", Invariant($"{r.EventsPerSecond} x {r.Seconds} ({r.Active * r.EventsPerSecond:N0} events/s in all)"));
        Row("active: sent / acked / errored / landed", Invariant($"{r.Sent:N0} / {r.Acked:N0} / {r.Errored:N0} / {r.Landed:N0}"));
        Row("**active: send-to-ack ms p50 / p90 / p99 / max**", Latency(r.AckLatency, bold: true));
        Row("active: harness schedule lag ms p50 / p90 / p99 / max", Latency(r.ScheduleLag, bold: false));
        Row("active: gateway GC pauses, ms (gen2 collections)", Invariant($"{r.ActiveGc.PauseMs:N0} ({r.ActiveGc.Gen2})"));
        Row("gateway RSS after the active phase, MiB", Mib(r.RssActiveBytes));
        Row("gateway's /stats connections after / reconnects / gateway up", Invariant($"{r.StatsConnectionsAfter:N0} / {r.Reconnects} / {(r.GatewayUp ? "yes" : "no")}"));
        return text.ToString();
    }

    /// <summary>How long connecting may take: 100 connections a second at worst, and never less than a minute.</summary>
    private static TimeSpan ConnectDeadline(int connections) => TimeSpan.FromSeconds(Math.Max(60, connections / 100.0));

    /// <summary>
    /// The gateway's resident memory once it holds still: sampled every 500 ms until the last six
    /// samples (3 s) lie within 1 MiB of each other, at most 60 s (then the last sample).
    /// </summary>
    private static async Task<(long Bytes, TimeSpan Took)> SteadyResidentBytesAsync(GatewayProcess gateway, CancellationToken cancellationToken)
    {
        const int Window = 6;
        const long Tolerance = 1024 * 1024;
        var started = Stopwatch.StartNew();
        var samples = new Queue<long>();
        while (true)
        {
            samples.Enqueue(gateway.ResidentBytes);
            if (samples.Count > Window)
            {
                samples.Dequeue();
            }

            if ((samples.Count == Window && samples.Max() - samples.Min() <= Tolerance) || started.Elapsed > TimeSpan.FromSeconds(60))
            {
                return (samples.Last(), started.Elapsed);
            }

            await Task.Delay(500, cancellationToken).ConfigureAwait(false);
        }
    }

    private static async Task HoldAsync(IdleBenchOptions options, GatewayProcess gateway, string point, TextWriter log, CancellationToken cancellationToken)
    {
        if (options.HoldSeconds > 0)
        {
            await log.WriteLineAsync($"holding {options.HoldSeconds} s at the {point} (gateway pid {gateway.ProcessId})...").ConfigureAwait(false);
            await Task.Delay(TimeSpan.FromSeconds(options.HoldSeconds), cancellationToken).ConfigureAwait(false);
        }
    }

    private static async Task WaitForConnectionsAsync(GatewayProcess gateway, long count, TimeSpan limit, CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(limit);
        while ((await gateway.GetStatsAsync(timeout.Token).ConfigureAwait(false)).ConnectionsActive != count)
        {
            await Task.Delay(100, timeout.Token).ConfigureAwait(false);
        }
    }

    private static async Task<bool> IsLiveAsync(GatewayProcess gateway, CancellationToken cancellationToken)
    {
        using var http = new HttpClient { BaseAddress = gateway.HttpUri, Timeout = TimeSpan.FromSeconds(10) };
        try
        {
            using var response = await http.GetAsync(new Uri("/healthz", UriKind.Relative), cancellationToken).ConfigureAwait(false);
            return response.IsSuccessStatusCode;
        }
        catch (HttpRequestException)
        {
            return false;
        }
    }

    /// <summary>The soft "Max open files" of a process, from <c>/proc/&lt;pid&gt;/limits</c>; -1 when unknown.</summary>
    private static long ProcessDescriptorLimit(int processId)
    {
        try
        {
            var line = File.ReadLines($"/proc/{processId}/limits").FirstOrDefault(l => l.StartsWith("Max open files", StringComparison.Ordinal));
            var fields = line?["Max open files".Length..].Split(' ', StringSplitOptions.RemoveEmptyEntries);
            return fields is { Length: > 0 } && long.TryParse(fields[0], NumberStyles.None, CultureInfo.InvariantCulture, out var soft) ? soft : -1;
        }
        catch (IOException)
        {
            return -1;
        }
    }

    private static string Latency(LatencySummary? s, bool bold) =>
        s is null ? "" : bold ? $"**{Latency(s, bold: false)}**" : Invariant($"{s.P50Ms:0.0} / {s.P90Ms:0.0} / {s.P99Ms:0.0} / {s.MaxMs:0.0}");

    private static string Mib(long bytes) => Invariant($"{bytes / (1024.0 * 1024):0.0}");

    private static string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);
}

/// <summary>Everything <c>idle-bench</c> measured.</summary>
internal sealed class IdleBenchResult
{
    public int Connections { get; set; }
    public int Active { get; set; }
    public int EventsPerSecond { get; set; }
    public int Seconds { get; set; }
    public string SourceAddresses { get; set; } = "";
    public long HarnessDescriptorLimit { get; set; }
    public long GatewayDescriptorLimit { get; set; }
    public int GatewayDescriptorsBefore { get; set; }
    public int GatewayDescriptorsIdle { get; set; }
    public int HarnessDescriptorsIdle { get; set; }
    public double ConnectSeconds { get; set; }
    public long RssBeforeBytes { get; set; }
    public long RssIdleBytes { get; set; }
    public long RssActiveBytes { get; set; }
    public double BytesPerIdleConnection => Connections == 0 ? 0 : (double)(RssIdleBytes - RssBeforeBytes) / Connections;
    public long StatsConnectionsIdle { get; set; }
    public long StatsConnectionsAfter { get; set; }
    public long ClientsOpenAfter { get; set; }
    public long Reconnects { get; set; }
    public bool GatewayUp { get; set; }
    public double ActiveSeconds { get; set; }
    public long Sent { get; set; }
    public long Acked { get; set; }
    public long Errored { get; set; }
    public long Landed { get; set; }
    public LatencySummary? AckLatency { get; set; }
    public LatencySummary? ScheduleLag { get; set; }
    public (long PauseMs, int Gen2) ConnectGc { get; set; }
    public (long PauseMs, int Gen2) ActiveGc { get; set; }
    public bool Passed { get; set; }
}
