using System.Diagnostics;
using System.Net.WebSockets;
using Ingest.Testing;

namespace Ingest.IntegrationTests.Limits;

/// <summary>
/// Clients that start messages and never finish them cannot take the gateway's memory: the bytes
/// being reassembled come from a fixed budget, connections without budget stop being read, and
/// a message not completed in time closes its connection (docs/operations.md, "Memory budget").
/// The issue's attack: 2,000 connections each holding a 1,048,575-byte fragment took 2.25 GB.
/// </summary>
[Collection(MeasurementCollection.Name)]
public sealed class MemoryBudgetTests
{
    private const int Attackers = 500;
    private const int FragmentBytes = 1_048_575; // one byte short of the 1 MiB message limit
    private const long ReassemblyBytes = 64L * 1024 * 1024;
    private const long QueuedBytes = 64L * 1024 * 1024;

    /// <summary>
    /// What one connection may hold besides the budgets, as docs/operations.md states it: its own
    /// 4 KB first buffer, what Kestrel reads ahead for it (Ingest:Limits:ConnectionBufferBytes, 64 KB),
    /// the WebSocket and session state; generously.
    /// </summary>
    private const long PerConnectionBytes = 96 * 1024;

    /// <summary>
    /// How far above its baseline the gateway's resident memory may stay once the burst is over
    /// (measured: 38 MiB; Kestrel's pinned socket buffers go back over time, not at once).
    /// </summary>
    private const long GivenBackWithin = 64L * 1024 * 1024;

    /// <summary>Slack for the garbage collector's own headroom above live memory.</summary>
    private const long Slack = 48L * 1024 * 1024;

    [Fact]
    public async Task FiveHundredUnfinishedMegabyteFragments_RssStaysInTheBudget_TheyAreClosedBy1008_AGoodClientKeepsItsAcks_MemoryComesBack()
    {
        await using var gateway = GatewayProcessHost.Start(new Dictionary<string, string>
        {
            ["Ingest:Kafka:Embedded:Brokers"] = "1",
            ["Ingest:Kafka:Embedded:Partitions"] = "2",
            ["Ingest:Kafka:Embedded:DiscoveryFile"] = "",
            ["Ingest:Memory:MaxReassemblyBytes"] = ReassemblyBytes.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["Ingest:Memory:MaxQueuedBytes"] = QueuedBytes.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["Ingest:WebSocket:MessageTimeoutMs"] = "5000",
        });
        await gateway.WaitUntilReadyAsync();

        await using var good = await TestClient.ConnectAsync(gateway.WebSocketUri);
        for (var i = 0; i < 20; i++)
        {
            await good.SendAndWaitAckAsync(Event(i));
        }

        var baseline = gateway.ResidentBytes;
        var budget = baseline + ReassemblyBytes + QueuedBytes + (Attackers + 1) * PerConnectionBytes + Slack;

        // The well-behaved client sends an event every 50 ms and times each ack, all along, while
        // the gateway's resident memory is sampled every 100 ms.
        using var stop = new CancellationTokenSource();
        var latencies = new List<TimeSpan>();
        var peak = baseline;
        var goodClient = SendGoodEventsAsync();
        var sampling = SampleResidentMemoryAsync();

        // The attack: each connection sends the first frame of a message that never ends.
        var payload = new byte[FragmentBytes];
        Array.Fill(payload, (byte)'x');
        var attackers = new List<Attacker>();
        for (var i = 0; i < Attackers; i++)
        {
            attackers.Add(await Attacker.StartAsync(gateway.WebSocketUri, payload));
        }

        // Each is closed with 1008 once its message has taken longer than 5 s.
        await Poll.UntilAsync(() => attackers.All(a => a.Closed.IsCompleted), "every unfinished message to be closed", TimeSpan.FromSeconds(60));
        await stop.CancelAsync();
        await goodClient;
        await sampling;

        var closes = attackers.Select(a => a.Closed.Result).ToArray();
        TestContext.Current.TestOutputHelper?.WriteLine(
            $"RSS baseline {baseline / 1048576} MiB, peak {peak / 1048576} MiB, budget {budget / 1048576} MiB; good client: {latencies.Count} acks, max {latencies.Max().TotalMilliseconds:F0} ms; " +
            string.Join(", ", closes.GroupBy(c => c).Select(g => $"{g.Count()} x {g.Key}")));
        Assert.All(closes, status => Assert.Equal(WebSocketCloseStatus.PolicyViolation, status));
        Assert.True(peak <= budget, $"RSS peaked at {peak / 1048576} MiB, over the budget of {budget / 1048576} MiB");
        Assert.True(latencies.Count >= 20, $"the good client got only {latencies.Count} acks during the attack");
        Assert.True(latencies.Max() < TimeSpan.FromSeconds(5), $"the good client waited {latencies.Max().TotalMilliseconds:F0} ms for an ack");
        foreach (var attacker in attackers)
        {
            attacker.Dispose();
        }

        // Memory goes back after the burst: the trimmer's full collection frees the large buffers.
        await Poll.UntilAsync(() => gateway.ResidentBytes <= baseline + GivenBackWithin, "the gateway's resident memory to come back down", TimeSpan.FromSeconds(30));
        TestContext.Current.TestOutputHelper?.WriteLine($"RSS after the burst: {gateway.ResidentBytes / 1048576} MiB");

        async Task SendGoodEventsAsync()
        {
            await Task.Yield();
            for (var i = 20; !stop.IsCancellationRequested; i++)
            {
                var clock = Stopwatch.StartNew();
                await good.SendAndWaitAckAsync(Event(i));
                latencies.Add(clock.Elapsed);
                await Task.Delay(50, TestContext.Current.CancellationToken);
            }
        }

        async Task SampleResidentMemoryAsync()
        {
            using var timer = new PeriodicTimer(TimeSpan.FromMilliseconds(100));
            while (await timer.WaitForNextTickAsync(TestContext.Current.CancellationToken) && !stop.IsCancellationRequested)
            {
                peak = Math.Max(peak, gateway.ResidentBytes);
            }
        }
    }

    private static string Event(int i) => $"{{\"msg\":\"{i}\",\"clientId\":\"good\",\"timestamp\":{i}}}";

    /// <summary>A client that sends one non-final fragment and then only listens for the close.</summary>
    private sealed class Attacker : IDisposable
    {
        private readonly ClientWebSocket _socket;

        private Attacker(ClientWebSocket socket, byte[] payload)
        {
            _socket = socket;
            // The send never completes while the gateway does not read: it is not awaited.
            _ = socket.SendAsync(payload, WebSocketMessageType.Text, endOfMessage: false, CancellationToken.None);
            Closed = ReceiveCloseAsync(socket);
        }

        /// <summary>The close status the gateway sent (null: the connection dropped without one).</summary>
        public Task<WebSocketCloseStatus?> Closed { get; }

        public static async Task<Attacker> StartAsync(Uri uri, byte[] payload)
        {
            var socket = new ClientWebSocket();
            await socket.ConnectAsync(uri, TestContext.Current.CancellationToken);
            return new Attacker(socket, payload);
        }

        public void Dispose() => _socket.Dispose();

        private static async Task<WebSocketCloseStatus?> ReceiveCloseAsync(ClientWebSocket socket)
        {
            var buffer = new byte[256];
            try
            {
                while ((await socket.ReceiveAsync(buffer, CancellationToken.None)).MessageType != WebSocketMessageType.Close)
                {
                }

                return socket.CloseStatus;
            }
            catch (Exception e) when (e is WebSocketException or IOException or OperationCanceledException)
            {
                return socket.CloseStatus;
            }
        }
    }
}
