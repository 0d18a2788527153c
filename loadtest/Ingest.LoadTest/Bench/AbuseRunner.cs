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

    /// <summary>Bad clients closed by the gateway stay away (by default they connect again at once).</summary>
    public bool Once { get; init; }

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
    private static long _reconnects; // the flood process's bad clients that connected again

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
        var clientsCpu0 = ProcessProbe.CpuTime(Environment.ProcessId);
        var alone = await RunGoodAsync(gateway.WebSocketUri, options, "a", duration, cancellationToken).ConfigureAwait(false);
        var aloneCpu = (gateway.CpuTime - cpu0).TotalSeconds;
        var aloneClientsCpu = (ProcessProbe.CpuTime(Environment.ProcessId) - clientsCpu0).TotalSeconds;

        await log.WriteLineAsync($"(b) {options.GarbageConnections:N0} connections sending invalid JSON as fast as they can (another process), then the good ones again...").ConfigureAwait(false);
        // The flood runs in a process of its own: in this one, a thousand send loops would take the
        // thread pool from the good clients and from the /stats requests, and measure the harness.
        var floodSeconds = options.Seconds + 30;
        await using var flood = await FloodProcess.StartAsync(gateway.WebSocketUri, options.GarbageConnections, floodSeconds, options.Once, cancellationToken).ConfigureAwait(false);
        await log.WriteLineAsync($"    flood pid {flood.ProcessId}: {flood.Connected:N0} of {options.GarbageConnections:N0} connected").ConfigureAwait(false);
        var rss0 = gateway.ResidentBytes;
        cpu0 = gateway.CpuTime;
        var stats0 = await gateway.GetStatsAsync(cancellationToken).ConfigureAwait(false);
        var floodCpu0 = ProcessProbe.CpuTime(flood.ProcessId);
        clientsCpu0 = ProcessProbe.CpuTime(Environment.ProcessId);
        var flooded = await RunGoodAsync(gateway.WebSocketUri, options, "b", duration, cancellationToken).ConfigureAwait(false);
        var floodedCpu = (gateway.CpuTime - cpu0).TotalSeconds;
        var floodedClientsCpu = (ProcessProbe.CpuTime(Environment.ProcessId) - clientsCpu0).TotalSeconds;
        var floodCpu1 = ProcessProbe.CpuTime(flood.ProcessId); // zero once it has exited (--once: all its connections closed)
        var floodCpu = floodCpu1 > floodCpu0 ? $"{(floodCpu1 - floodCpu0).TotalSeconds:F1} s" : "(exited: its connections were closed)";
        var stats1 = await gateway.GetStatsAsync(cancellationToken).ConfigureAwait(false);
        var rss1 = gateway.ResidentBytes;
        var (garbageSent, reconnects) = await flood.StopAsync().ConfigureAwait(false);

        var ratio = flooded.EventsPerSecond / alone.EventsPerSecond;
        await log.WriteLineAsync(string.Create(CultureInfo.InvariantCulture, $"""

            good connections alone:     {alone.EventsPerSecond,10:N0} events/s acked, ack p50/p99 {alone.P50Ms:F1}/{alone.P99Ms:F1} ms, CPU: gateway {aloneCpu:F1} s, good clients {aloneClientsCpu:F1} s
            with {options.GarbageConnections:N0} garbage connections{(options.Once ? " (once)" : "")}: {flooded.EventsPerSecond,10:N0} events/s acked, ack p50/p99 {flooded.P50Ms:F1}/{flooded.P99Ms:F1} ms, CPU: gateway {floodedCpu:F1} s, good clients {floodedClientsCpu:F1} s, flood {floodCpu}
            ratio (target >= 50%):      {ratio:P0}
            invalid messages the gateway rejected meanwhile: {stats1.MessagesRejected - stats0.MessagesRejected:N0} ({(stats1.MessagesRejected - stats0.MessagesRejected) / duration.TotalSeconds:N0}/s); garbage sent in all: {garbageSent:N0}; bad clients closed by the gateway and connected again: {reconnects:N0}
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

    /// <summary>
    /// The flood's own process (<c>abuse --flood-url</c>): connects <paramref name="connections"/>
    /// bad clients, 100 at a time (handshakes in progress hold the gateway's plain-HTTP connection
    /// slots, 512 by default, and a storm beyond them is refused before any HTTP), prints
    /// <c>connected N</c>, floods until <paramref name="seconds"/> pass or standard input closes, and
    /// prints <c>sent N</c>.
    /// </summary>
    public static async Task<int> FloodAsync(Uri uri, int connections, int seconds, bool once, CancellationToken cancellationToken)
    {
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        stop.CancelAfter(TimeSpan.FromSeconds(seconds));
        var connected = 0;
        var sockets = new List<ClientWebSocket>(connections);
        for (var i = 0; i < connections; i += 100)
        {
            var batch = Enumerable.Range(0, Math.Min(100, connections - i))
                .Select(_ => Task.Run(async () =>
                {
                    var socket = new ClientWebSocket();
                    try
                    {
                        await socket.ConnectAsync(uri, stop.Token).ConfigureAwait(false);
                        Interlocked.Increment(ref connected);
                        return socket;
                    }
                    catch (Exception e) when (e is WebSocketException or OperationCanceledException)
                    {
                        socket.Dispose();
                        return null;
                    }
                }))
                .ToArray();
            sockets.AddRange((await Task.WhenAll(batch).ConfigureAwait(false)).OfType<ClientWebSocket>());
        }

        // Every handshake first: send loops that complete synchronously would starve the handshakes.
        var clients = sockets.Select(socket => Task.Run(() => SendGarbageAsync(uri, socket, once, stop.Token))).ToArray();

        await Console.Out.WriteLineAsync(string.Create(CultureInfo.InvariantCulture, $"connected {connected}")).ConfigureAwait(false);
        await Console.Out.FlushAsync(stop.Token).ConfigureAwait(false);
        _ = Task.Run(async () =>
        {
            // The parent closes our standard input to stop us.
            await Console.In.ReadToEndAsync(CancellationToken.None).ConfigureAwait(false);
            await stop.CancelAsync().ConfigureAwait(false);
        }, CancellationToken.None);
        var sent = (await Task.WhenAll(clients).ConfigureAwait(false)).Sum();
        await Console.Out.WriteLineAsync(string.Create(CultureInfo.InvariantCulture, $"sent {sent} reconnected {Volatile.Read(ref _reconnects)}")).ConfigureAwait(false);
        return 0;
    }

    /// <summary>
    /// One bad client: invalid JSON as fast as the socket takes it, its frames read and dropped;
    /// closed by the gateway, it connects again at once (as an attacker would) and goes on, unless
    /// <paramref name="once"/>.
    /// </summary>
    private static async Task<long> SendGarbageAsync(Uri uri, ClientWebSocket first, bool once, CancellationToken cancellationToken)
    {
        long sent = 0;
        var socket = first;
        while (true)
        {
            using (var owned = socket)
            {
                try
                {
                    var reading = DrainAsync(owned);
                    while (!cancellationToken.IsCancellationRequested && owned.State == WebSocketState.Open)
                    {
                        await owned.SendAsync(Garbage, WebSocketMessageType.Text, endOfMessage: true, cancellationToken).ConfigureAwait(false);
                        if (++sent % 64 == 0)
                        {
                            await Task.Yield(); // a send that completes at once does not yield: let the others run
                        }
                    }

                    owned.Abort(); // stopped (or closed by the gateway): the reader ends too
                    await reading.ConfigureAwait(false);
                }
                catch (Exception e) when (e is WebSocketException or IOException or OperationCanceledException or ObjectDisposedException)
                {
                    // Closed by the gateway, or stopped.
                }
            }

            if (once || (socket = await ReconnectAsync(uri, cancellationToken).ConfigureAwait(false)) is null)
            {
                return sent;
            }

            Interlocked.Increment(ref _reconnects);
        }
    }

    /// <summary>A new connection for a closed bad client (retried every 50 ms while refused); null once stopped.</summary>
    private static async Task<ClientWebSocket?> ReconnectAsync(Uri uri, CancellationToken cancellationToken)
    {
        while (!cancellationToken.IsCancellationRequested)
        {
            var socket = new ClientWebSocket();
            try
            {
                await socket.ConnectAsync(uri, cancellationToken).ConfigureAwait(false);
                return socket;
            }
            catch (Exception e) when (e is WebSocketException or OperationCanceledException)
            {
                socket.Dispose();
            }

            try
            {
                await Task.Delay(50, cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                break;
            }
        }

        return null;
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
