using System.Diagnostics;
using System.Globalization;
using System.Net.WebSockets;
using Ingest.Kafka.Embedded;
using Ingest.LoadTest.Engine;

namespace Ingest.LoadTest.Bench;

/// <summary>Settings of the <c>abuse</c> command.</summary>
internal sealed record AbuseOptions
{
    public int GarbageConnections { get; init; } = 1_000;

    public int GoodConnections { get; init; } = 4;

    public int Window { get; init; } = 16;

    public int Seconds { get; init; } = 10;

    public string? GatewayDll { get; init; }
}

/// <summary>
/// The <c>abuse</c> command: what a flood of bad clients costs a well-behaved one. A few good
/// connections send single events as fast as their window of unacked messages allows, first alone,
/// then while many other connections send invalid JSON as fast as they can (reading their error
/// frames, so that only the gateway's own limits hold them back). Reports the good clients' acked
/// events per second in both phases and the ratio, and the gateway's CPU and memory.
/// </summary>
internal static class AbuseRunner
{
    private static readonly byte[] Garbage = "{\"msg\": not json at all"u8.ToArray();

    public static async Task<int> RunAsync(AbuseOptions options, TextWriter log, CancellationToken cancellationToken)
    {
        var gatewayDll = options.GatewayDll ?? GatewayProcess.FindGatewayDll();
        if (gatewayDll is null || !File.Exists(gatewayDll))
        {
            await log.WriteLineAsync("Ingest.Gateway.dll not found: build the solution (dotnet build Ingest.sln -c Release) or pass --gateway <path>.").ConfigureAwait(false);
            return 2;
        }

        using var cluster = EmbeddedKafkaCluster.Start(brokerCount: 1);
        var topic = $"abuse-{Guid.NewGuid():N}"[..14];
        cluster.CreateTopic(topic, 8);
        cluster.CreateTopic(topic + ".dlq", 8);
        var settings = new Dictionary<string, string>
        {
            ["Ingest:Kafka:BootstrapServers"] = cluster.BootstrapServers,
            ["Ingest:Kafka:Topic"] = topic,
            ["Ingest:Kafka:DeadLetterTopic"] = topic + ".dlq",
            // Every connection comes from 127.0.0.1 here: the per-address limit is not what is measured.
            ["Ingest:Limits:MaxConnectionsPerAddress"] = (options.GarbageConnections + options.GoodConnections + 100).ToString(CultureInfo.InvariantCulture),
            ["Serilog:MinimumLevel:Default"] = "Warning",
        };
        await using var gateway = await GatewayProcess.StartAsync(gatewayDll, settings, cancellationToken).ConfigureAwait(false);
        var duration = TimeSpan.FromSeconds(options.Seconds);
        await log.WriteLineAsync($"warm-up: {options.GoodConnections} good connections for {options.Seconds} s (gateway pid {gateway.ProcessId})...").ConfigureAwait(false);
        await RunGoodAsync(gateway.WebSocketUri, options, "w", duration, cancellationToken).ConfigureAwait(false);

        await log.WriteLineAsync($"(a) good connections alone, {options.Seconds} s...").ConfigureAwait(false);
        var cpu0 = gateway.CpuTime;
        var alone = await RunGoodAsync(gateway.WebSocketUri, options, "a", duration, cancellationToken).ConfigureAwait(false);
        var aloneCpu = (gateway.CpuTime - cpu0).TotalSeconds;

        await log.WriteLineAsync($"(b) {options.GarbageConnections:N0} connections sending invalid JSON as fast as they can, then the good ones again...").ConfigureAwait(false);
        using var stopGarbage = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        // Connected 100 at a time: handshakes in progress hold the gateway's plain-HTTP connection
        // slots (512 by default), and a storm beyond them is refused before any HTTP.
        var garbage = new List<Task<long>>();
        for (var i = 0; i < options.GarbageConnections; i++)
        {
            garbage.Add(SendGarbageAsync(gateway.WebSocketUri, stopGarbage.Token));
            if (i % 100 == 99)
            {
                await Task.Delay(TimeSpan.FromMilliseconds(200), cancellationToken).ConfigureAwait(false);
            }
        }

        await Task.Delay(TimeSpan.FromSeconds(2), cancellationToken).ConfigureAwait(false); // let the flood build up
        var rss0 = gateway.ResidentBytes;
        cpu0 = gateway.CpuTime;
        var stats0 = await gateway.GetStatsAsync(cancellationToken).ConfigureAwait(false);
        var flooded = await RunGoodAsync(gateway.WebSocketUri, options, "b", duration, cancellationToken).ConfigureAwait(false);
        var floodedCpu = (gateway.CpuTime - cpu0).TotalSeconds;
        var stats1 = await gateway.GetStatsAsync(cancellationToken).ConfigureAwait(false);
        var rss1 = gateway.ResidentBytes;
        await stopGarbage.CancelAsync().ConfigureAwait(false);
        var garbageSent = (await Task.WhenAll(garbage).ConfigureAwait(false)).Sum();

        var ratio = flooded.EventsPerSecond / alone.EventsPerSecond;
        await log.WriteLineAsync(string.Create(CultureInfo.InvariantCulture, $"""

            good connections alone:     {alone.EventsPerSecond,10:N0} events/s acked, ack p50/p99 {alone.P50Ms:F1}/{alone.P99Ms:F1} ms, gateway CPU {aloneCpu:F1} s
            with {options.GarbageConnections:N0} garbage connections: {flooded.EventsPerSecond,10:N0} events/s acked, ack p50/p99 {flooded.P50Ms:F1}/{flooded.P99Ms:F1} ms, gateway CPU {floodedCpu:F1} s
            ratio (target >= 50%):      {ratio:P0}
            invalid messages the gateway rejected meanwhile: {stats1.MessagesRejected - stats0.MessagesRejected:N0} ({(stats1.MessagesRejected - stats0.MessagesRejected) / duration.TotalSeconds:N0}/s); garbage sent in all: {garbageSent:N0}
            gateway RSS during the flood: {rss0 / 1048576.0:F0} -> {rss1 / 1048576.0:F0} MiB; good events errored: {alone.Errored + flooded.Errored}
            """)).ConfigureAwait(false);
        return ratio >= 0.5 && alone.Errored + flooded.Errored == 0 ? 0 : 1;
    }

    private static async Task<GoodResult> RunGoodAsync(Uri uri, AbuseOptions options, string phase, TimeSpan duration, CancellationToken cancellationToken)
    {
        var stats = new LoadStats();
        var runId = $"abuse-{phase}-{Guid.NewGuid():N}"[..16];
        var elapsed = await LoadDriver.RunAsync(uri, options.GoodConnections, new LoadClientOptions { Window = options.Window }, stats,
            async (index, client, token) =>
            {
                var started = Stopwatch.GetTimestamp();
                for (var n = 0; Stopwatch.GetElapsedTime(started) < duration; n++)
                {
                    var payload = TestEvents.Message(runId, index, n, 1, DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(), asArray: false);
                    await client.SendAsync(payload, 1, TestEvents.Key(index, n), 0, token).ConfigureAwait(false);
                }
            },
            TimeSpan.FromMinutes(1),
            cancellationToken).ConfigureAwait(false);
        var latency = stats.AckLatency.Summarize();
        return new GoodResult(stats.EventsAcked / elapsed.TotalSeconds, latency.P50Ms, latency.P99Ms, stats.EventsErrored);
    }

    /// <summary>One bad client: invalid JSON as fast as the socket takes it, its frames read and dropped.</summary>
    private static async Task<long> SendGarbageAsync(Uri uri, CancellationToken cancellationToken)
    {
        long sent = 0;
        using var socket = new ClientWebSocket();
        try
        {
            await socket.ConnectAsync(uri, cancellationToken).ConfigureAwait(false);
            var reading = DrainAsync(socket);
            while (!cancellationToken.IsCancellationRequested && socket.State == WebSocketState.Open)
            {
                await socket.SendAsync(Garbage, WebSocketMessageType.Text, endOfMessage: true, cancellationToken).ConfigureAwait(false);
                sent++;
            }

            await reading.ConfigureAwait(false);
        }
        catch (Exception e) when (e is WebSocketException or IOException or OperationCanceledException or ObjectDisposedException)
        {
            // Closed by the gateway, or stopped: either way this client is done.
        }

        return sent;
    }

    private static async Task DrainAsync(ClientWebSocket socket)
    {
        var buffer = new byte[4096];
        try
        {
            while ((await socket.ReceiveAsync(buffer, CancellationToken.None).ConfigureAwait(false)).MessageType != WebSocketMessageType.Close)
            {
            }
        }
        catch (Exception e) when (e is WebSocketException or IOException or ObjectDisposedException)
        {
            // The connection ended.
        }
    }

    private sealed record GoodResult(double EventsPerSecond, double P50Ms, double P99Ms, long Errored);
}
