using System.Diagnostics;
using System.Globalization;
using Ingest.Kafka;
using Ingest.Kafka.Embedded;
using Ingest.LoadTest.Engine;
using Ingest.LoadTest.Reports;

namespace Ingest.LoadTest.Bench;

/// <summary>
/// The <c>bench</c> command: on one embedded broker (hosted by this process, 8 partitions), measures
/// (a) the raw producer, (b) the gateway (a separate process) end to end at full speed and at half
/// of that rate, (c) the gateway's resident memory per idle connection.
/// </summary>
internal static class BenchRunner
{
    public static async Task<int> RunAsync(BenchOptions options, TextWriter log, CancellationToken cancellationToken)
    {
        var gatewayDll = options.GatewayDll ?? GatewayProcess.FindGatewayDll();
        if (gatewayDll is null || !File.Exists(gatewayDll))
        {
            await log.WriteLineAsync("Ingest.Gateway.dll not found: build the solution (dotnet build Ingest.sln -c Release) or pass --gateway <path>.").ConfigureAwait(false);
            return 2;
        }

        BenchResult result;
        using var cluster = EmbeddedKafkaCluster.Start(brokerCount: 1);
        var suffix = Guid.NewGuid().ToString("N")[..8];
        string rawTopic = $"bench-raw-{suffix}", gatewayTopic = $"bench-gw-{suffix}", memoryTopic = $"bench-mem-{suffix}";
        foreach (var topic in new[] { rawTopic + "-warm", gatewayTopic, gatewayTopic + ".dlq", memoryTopic, memoryTopic + ".dlq" })
        {
            cluster.CreateTopic(topic, options.Partitions);
        }

        // (a) and (b) alternate for --rounds rounds on warm processes (this machine is noisy: the
        // report takes the round with the median ratio, and lists every round).
        var settings = GatewaySettings(cluster.BootstrapServers, gatewayTopic);
        await using (var gateway = await GatewayProcess.StartAsync(gatewayDll, settings, cancellationToken).ConfigureAwait(false))
        {
            var runId = $"b{suffix}";
            var clientOptions = new LoadClientOptions { Window = options.Window };
            var perClient = options.Events / options.Connections;
            await log.WriteLineAsync($"warm-up: raw producer ({options.Events / 4:N0} events), gateway pid {gateway.ProcessId} at {gateway.WebSocketUri} (the same load as a round, so that the JIT has finished tiering up)...").ConfigureAwait(false);
            RawProducerBench.Run(cluster.BootstrapServers, rawTopic + "-warm", options.Connections, Math.Max(1, options.Events / 4));
            await LoadDriver.RunAsync(gateway.WebSocketUri, options.Connections, clientOptions, new LoadStats(),
                LoadDriver.AsFastAsAcked(runId + "w", perClient, options.Batch), TimeSpan.FromMinutes(2), cancellationToken).ConfigureAwait(false);

            var rounds = new List<BenchResult>();
            for (var round = 1; round <= options.Rounds; round++)
            {
                var r = new BenchResult { Connections = options.Connections, Events = options.Events, Batch = options.Batch, Window = options.Window, Partitions = options.Partitions };
                await log.WriteLineAsync($"round {round}/{options.Rounds}: (a) raw producer, {options.Events:N0} events to {options.Partitions} partitions...").ConfigureAwait(false);
                var roundRawTopic = $"{rawTopic}-{round}";
                cluster.CreateTopic(roundRawTopic, options.Partitions);
                var rawCpu0 = Process.GetCurrentProcess().TotalProcessorTime;
                var raw = RawProducerBench.Run(cluster.BootstrapServers, roundRawTopic, options.Connections, options.Events);
                r.RawCpuSeconds = (Process.GetCurrentProcess().TotalProcessorTime - rawCpu0).TotalSeconds;
                r.RawEventsPerSecond = raw.EventsPerSecond;
                r.RawDelivered = raw.Delivered;
                r.RawLanded = TopicWatermarks.CountRecords(cluster.BootstrapServers, roundRawTopic, TimeSpan.FromSeconds(10));

                await log.WriteLineAsync($"round {round}/{options.Rounds}: (b) gateway, {options.Connections} connections x {perClient:N0} events, window {options.Window}...").ConfigureAwait(false);
                // High watermarks: the embedded broker's retention (5 MiB per partition) drops old
                // records of the gateway's topic over the rounds, but never lowers what was appended.
                var landed0 = TopicWatermarks.CountAppended(cluster.BootstrapServers, gatewayTopic, TimeSpan.FromSeconds(10));
                var fullStats = new LoadStats();
                var before = await gateway.GetStatsAsync(cancellationToken).ConfigureAwait(false);
                var gatewayCpu0 = gateway.CpuTime;
                var harnessCpu0 = Process.GetCurrentProcess().TotalProcessorTime;
                var elapsed = await LoadDriver.RunAsync(gateway.WebSocketUri, options.Connections, clientOptions, fullStats,
                    LoadDriver.AsFastAsAcked($"{runId}r{round}", perClient, options.Batch), TimeSpan.FromMinutes(5), cancellationToken).ConfigureAwait(false);
                r.GatewayCpuSeconds = (gateway.CpuTime - gatewayCpu0).TotalSeconds;
                r.HarnessCpuSeconds = (Process.GetCurrentProcess().TotalProcessorTime - harnessCpu0).TotalSeconds;
                var after = await gateway.GetStatsAsync(cancellationToken).ConfigureAwait(false);
                r.GatewayAllocatedBytes = after.AllocatedBytes - before.AllocatedBytes;
                r.GatewayAckFrames = after.AcksSent - before.AcksSent;
                r.GatewayGen0Collections = after.Gen0Collections - before.Gen0Collections;
                r.GatewayMessages = fullStats.MessagesSent;
                r.GatewaySeconds = elapsed.TotalSeconds;
                r.GatewaySent = fullStats.EventsSent;
                r.GatewayAcked = fullStats.EventsAcked;
                r.GatewayErrored = fullStats.EventsErrored;
                r.GatewayEventsPerSecond = fullStats.EventsAcked / elapsed.TotalSeconds;
                r.FullSpeedAckLatency = fullStats.AckLatency.Summarize();
                r.GatewayLanded = TopicWatermarks.CountAppended(cluster.BootstrapServers, gatewayTopic, TimeSpan.FromSeconds(10)) - landed0;
                await log.WriteLineAsync(string.Create(CultureInfo.InvariantCulture, $"round {round}/{options.Rounds}: raw {r.RawEventsPerSecond:N0}/s, gateway {r.GatewayEventsPerSecond:N0}/s, ratio {r.Ratio:P0}")).ConfigureAwait(false);
                rounds.Add(r);
            }

            result = rounds.OrderBy(r => r.Ratio).ElementAt(rounds.Count / 2);
            result.Rounds = [.. rounds.Select(r => new BenchRound(r.RawEventsPerSecond, r.GatewayEventsPerSecond, r.Ratio))];
            result.Passed = rounds.All(r => r.GatewayLanded == r.GatewayAcked && r.GatewayAcked == r.GatewaySent && r.RawLanded == options.Events);

            // Half of the measured maximum, paced.
            var rate = result.GatewayEventsPerSecond / 2;
            var pacedPerClient = (int)Math.Max(1, rate * options.PacedSeconds / options.Connections);
            var interval = TimeSpan.FromSeconds(options.PacedSeconds * (double)options.Batch / pacedPerClient);
            await log.WriteLineAsync($"(b) paced at {rate:N0} events/s ({options.Connections} connections, one message every {interval.TotalMilliseconds:0.###} ms each) for {options.PacedSeconds} s...").ConfigureAwait(false);
            var pause0 = (await gateway.GetStatsAsync(cancellationToken).ConfigureAwait(false)).GcPauseMs;
            var pacedStats = new LoadStats();
            var lag = new LatencyHistogram();
            var pacedElapsed = await LoadDriver.RunAsync(gateway.WebSocketUri, options.Connections, clientOptions, pacedStats,
                LoadDriver.Paced(runId + "p", pacedPerClient, options.Batch, interval, lag), TimeSpan.FromMinutes(2), cancellationToken).ConfigureAwait(false);
            result.PacedTargetEventsPerSecond = rate;
            result.PacedEventsPerSecond = pacedStats.EventsAcked / pacedElapsed.TotalSeconds;
            result.PacedAckLatency = pacedStats.AckLatency.Summarize();
            result.PacedScheduleLag = lag.Summarize();
            result.PacedGcPauseMs = (await gateway.GetStatsAsync(cancellationToken).ConfigureAwait(false)).GcPauseMs - pause0;
            result.PacedSeconds = pacedElapsed.TotalSeconds;
        }

        // (c) Memory per idle connection, on a fresh gateway process.
        await using (var gateway = await GatewayProcess.StartAsync(gatewayDll, GatewaySettings(cluster.BootstrapServers, memoryTopic), cancellationToken).ConfigureAwait(false))
        {
            await log.WriteLineAsync($"(c) gateway pid {gateway.ProcessId}: warm-up, then {options.IdleConnections:N0} idle connections...").ConfigureAwait(false);
            await LoadDriver.RunAsync(gateway.WebSocketUri, 64, new LoadClientOptions(), new LoadStats(),
                LoadDriver.AsFastAsAcked("m" + suffix, 100, 1), TimeSpan.FromMinutes(1), cancellationToken).ConfigureAwait(false);
            await WaitForActiveConnectionsAsync(gateway, 0, cancellationToken).ConfigureAwait(false);
            await Task.Delay(TimeSpan.FromSeconds(2), cancellationToken).ConfigureAwait(false); // let the warm-up's garbage settle before the baseline
            var before = gateway.ResidentBytes;
            var idleStats = new LoadStats();
            var idle = await LoadDriver.ConnectAsync(gateway.WebSocketUri, options.IdleConnections, new LoadClientOptions(), idleStats, cancellationToken).ConfigureAwait(false);
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

        var report = BenchReport.Render(result);
        report.WriteToConsole();
        var files = await BenchReport.WriteFilesAsync(result, options.ResultsDirectory, cancellationToken).ConfigureAwait(false);
        await log.WriteLineAsync($"Results: {files}").ConfigureAwait(false);
        return result.Passed ? 0 : 1;
    }

    private static Dictionary<string, string> GatewaySettings(string bootstrapServers, string topic) => new()
    {
        ["Ingest:Kafka:BootstrapServers"] = bootstrapServers,
        ["Ingest:Kafka:Topic"] = topic,
        ["Ingest:Kafka:DeadLetterTopic"] = topic + ".dlq",
        ["Serilog:MinimumLevel:Default"] = "Warning",
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
}

/// <summary>Everything <c>bench</c> measured.</summary>
internal sealed class BenchResult
{
    public int Connections { get; set; }
    public int Events { get; set; }
    public int Batch { get; set; }
    public int Window { get; set; }
    public int Partitions { get; set; }
    public double RawEventsPerSecond { get; set; }
    public long RawDelivered { get; set; }
    public long RawLanded { get; set; }
    public double GatewayEventsPerSecond { get; set; }
    public double GatewaySeconds { get; set; }
    public long GatewaySent { get; set; }
    public long GatewayAcked { get; set; }
    public long GatewayErrored { get; set; }
    public long GatewayLanded { get; set; }
    public double GatewayCpuSeconds { get; set; }
    public double HarnessCpuSeconds { get; set; }
    public double RawCpuSeconds { get; set; }
    public long GatewayAllocatedBytes { get; set; }
    public long GatewayAckFrames { get; set; }
    public long GatewayGen0Collections { get; set; }
    public long GatewayMessages { get; set; }
    public double RawCpuMicrosecondsPerEvent => RawDelivered == 0 ? 0 : RawCpuSeconds * 1e6 / RawDelivered;
    public double GatewayCpuMicrosecondsPerEvent => GatewayAcked == 0 ? 0 : GatewayCpuSeconds * 1e6 / GatewayAcked;
    public double HarnessCpuMicrosecondsPerEvent => GatewayAcked == 0 ? 0 : HarnessCpuSeconds * 1e6 / GatewayAcked;
    public double GatewayAllocatedBytesPerEvent => GatewayAcked == 0 ? 0 : (double)GatewayAllocatedBytes / GatewayAcked;
    public double MessagesPerAckFrame => GatewayAckFrames == 0 ? 0 : (double)GatewayMessages / GatewayAckFrames;
    public double Ratio => RawEventsPerSecond == 0 ? 0 : GatewayEventsPerSecond / RawEventsPerSecond;
    public LatencySummary? FullSpeedAckLatency { get; set; }
    public double PacedTargetEventsPerSecond { get; set; }
    public double PacedEventsPerSecond { get; set; }
    public LatencySummary? PacedAckLatency { get; set; }
    public LatencySummary? PacedScheduleLag { get; set; }
    public long PacedGcPauseMs { get; set; }
    public double PacedSeconds { get; set; }
    public IReadOnlyList<BenchRound> Rounds { get; set; } = [];
    public bool Passed { get; set; }
    public int IdleConnections { get; set; }
    public long RssBeforeBytes { get; set; }
    public long RssAfterBytes { get; set; }
    public double BytesPerIdleConnection { get; set; }
}

/// <summary>One round of (a) and (b).</summary>
internal sealed record BenchRound(double RawEventsPerSecond, double GatewayEventsPerSecond, double Ratio);
