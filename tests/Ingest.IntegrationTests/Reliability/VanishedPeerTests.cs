using System.Diagnostics;
using Ingest.Contracts;
using Ingest.Testing;

namespace Ingest.IntegrationTests.Reliability;

/// <summary>
/// A half-open connection: the peer is gone without a close frame or a TCP end (a laptop lid shut,
/// a NAT entry dropped), so nothing arrives and nothing answers. The gateway finds out by its
/// keep-alive pings (docs/protocol.md, "Keep-alive"): a connection whose pong is missing for
/// <c>KeepAliveTimeoutMs</c> is dropped within interval + timeout, what it had sent is delivered,
/// and a live connection beside it, which answers the pings, stays.
/// </summary>
public sealed class VanishedPeerTests
{
    [Fact]
    public async Task SilentPeer_AnswersNoPing_IsDroppedWithinTheKeepAliveWindow_ItsEventsDelivered_ALivePeerStays()
    {
        const int intervalMs = 500, timeoutMs = 1_000;
        await using var gateway = await TestGateway.StartAsync(new Dictionary<string, string?>
        {
            ["Ingest:WebSocket:KeepAliveIntervalMs"] = $"{intervalMs}",
            ["Ingest:WebSocket:KeepAliveTimeoutMs"] = $"{timeoutMs}",
        });
        await using var live = await TestClient.ConnectAsync(gateway.WebSocketUri); // reads all the time, so it answers every ping
        using var silent = await RawWebSocketClient.ConnectAsync(gateway.WebSocketUri);
        Assert.Equal(101, silent.Response.Status);
        await silent.SendTextAsync(FaultyLoad.Event("silent", 1));
        var ack = await silent.ReceiveFrameAsync(TestContext.Current.CancellationToken);
        Assert.Equal("{\"type\":\"ack\",\"upTo\":1}", ack?.Text);
        Assert.Equal(2, (await StatsAsync(gateway)).ConnectionsActive);

        // From here the silent peer neither reads nor writes: the gateway's pings get no pong.
        var silentSince = Stopwatch.StartNew();
        await PollStatsAsync(gateway, s => s.ConnectionsActive == 1, "the silent connection to be dropped", TimeSpan.FromSeconds(15));
        var noticedAfter = silentSince.Elapsed;

        // Dropped, not closed politely: it was pinged, then the connection ended without a close frame.
        var transcript = await silent.ReadUntilEndAsync(TimeSpan.FromSeconds(10), answerClose: false);
        Assert.Contains(transcript.Frames, f => f.Opcode == Opcode.Ping);
        Assert.NotNull(transcript.End);
        Assert.True(noticedAfter >= TimeSpan.FromMilliseconds(timeoutMs), $"dropped after {noticedAfter.TotalMilliseconds:0} ms, before the pong timeout");

        // The live peer is still served, and both events are in Kafka.
        Assert.False(live.IsClosed);
        await live.SendAndWaitAckAsync(FaultyLoad.Event("live", 1));
        var records = TopicReader.ReadAll(gateway.Kafka.BootstrapServers, gateway.Topic, 2);
        Assert.Equal(
            new[] { FaultyLoad.Event("live", 1), FaultyLoad.Event("silent", 1) },
            records.Select(r => r.Text).Order(StringComparer.Ordinal));
    }

    private static async Task<GatewayStats> StatsAsync(TestGateway gateway) =>
        GatewayStats.Parse(await gateway.Http.GetStringAsync(new Uri("/stats", UriKind.Relative), TestContext.Current.CancellationToken));

    private static async Task PollStatsAsync(TestGateway gateway, Func<GatewayStats, bool> condition, string what, TimeSpan timeout)
    {
        using var timer = new PeriodicTimer(TimeSpan.FromMilliseconds(50));
        var deadline = DateTime.UtcNow + timeout;
        GatewayStats stats;
        while (!condition(stats = await StatsAsync(gateway)))
        {
            Assert.True(DateTime.UtcNow < deadline, $"timed out after {timeout.TotalSeconds:0} s waiting for {what} ({stats})");
            await timer.WaitForNextTickAsync(TestContext.Current.CancellationToken);
        }
    }
}
