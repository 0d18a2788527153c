using System.Diagnostics;
using System.Net.WebSockets;
using Ingest.Contracts;
using Ingest.Kafka;
using Ingest.Testing;

namespace Ingest.IntegrationTests.Limits;

/// <summary>
/// The timeouts a WebSocket lives with (docs/protocol.md, "Limits a connection lives with"): a
/// message not completed in time closes its connection with 1008, an idle one is closed with 1000.
/// The gateway checks them once a second, so a timeout of 1 s fires within about 2 s.
/// </summary>
public sealed class ConnectionTimeoutTests
{
    private const string Valid = "{\"msg\":\"ok\",\"clientId\":\"c\",\"timestamp\":1}";

    [Fact]
    public async Task MessageNotCompletedInTime_Closes1008AfterAFinalAckOfTheEarlierMessages_NoDeadLetter_OthersUnaffected()
    {
        // 3 s: the steady client's messages must never look slow, even when a loaded machine stalls
        // the gateway's threads for a second between two of its frames.
        await using var gateway = await TestGateway.StartAsync(new Dictionary<string, string?> { ["Ingest:WebSocket:MessageTimeoutMs"] = "3000" });
        await using var steady = await TestClient.ConnectAsync(gateway.WebSocketUri);
        using var stalled = await RawWebSocketClient.ConnectAsync(gateway.WebSocketUri);

        // Two whole messages, not waiting for their acks, then the first fragment of a third and nothing more.
        await stalled.SendTextAsync(Valid);
        await stalled.SendTextAsync(Valid);
        await stalled.SendFrameAsync(Opcode.Text, "{\"msg\":\"never finis"u8.ToArray(), fin: false);
        var clock = Stopwatch.StartNew();
        var transcript = stalled.ReadUntilEndAsync(TimeSpan.FromSeconds(20));

        // Meanwhile another connection sends fragmented messages that it completes at once.
        while (!transcript.IsCompleted || steady.Sent < 10)
        {
            await steady.SendAsync(Valid, fragmentSize: 8);
            await steady.WaitForAckAsync(steady.Sent);
        }

        var closedAfter = clock.Elapsed;
        var frames = (await transcript).Frames;
        var close = Assert.Single(frames, f => f.Opcode == Opcode.Close);
        Assert.Equal(1008, close.CloseStatus);
        Assert.Equal("message not completed within 3000 ms", close.CloseReason);
        Assert.InRange(closedAfter, TimeSpan.FromMilliseconds(2_900), TimeSpan.FromSeconds(10));
        // The last frame before the close is the final ack, covering both whole messages; no error frame.
        var texts = frames.Where(f => f.Opcode == Opcode.Text).Select(f => ServerFrame.Parse(f.Payload)).ToList();
        Assert.All(texts, f => Assert.Equal(ServerFrameType.Ack, f.Type));
        Assert.Equal(2, texts[^1].UpTo);
        Assert.Equal(Opcode.Close, frames[^1].Opcode);

        Assert.False(steady.IsClosed);
        Assert.Empty(steady.Errors);
        // Both whole messages and every steady one are in Kafka; the unfinished one is not, and it is
        // no dead letter either (read after the events, so a dead letter would have been written by now).
        var events = TopicReader.ReadAll(gateway.Kafka.BootstrapServers, gateway.Topic, (int)steady.Sent + 2);
        Assert.Equal(steady.Sent + 2, events.Count);
        Assert.DoesNotContain(events, e => e.Text.Contains("never", StringComparison.Ordinal));
        Assert.Equal(0, TopicWatermarks.CountRecords(gateway.Kafka.BootstrapServers, gateway.DeadLetterTopic, TimeSpan.FromSeconds(10)));
    }

    [Fact]
    public async Task IdleConnection_IsClosedWith1000AndAnIdleReason_AConnectionSendingEvery250MsIsNot()
    {
        // 2.5 s: the busy client's gaps (250 ms) must never look idle, even when a loaded machine
        // (tests of other classes run beside this one) stalls its timer or the gateway's reader for
        // two seconds. A 1 s timeout once closed the busy connection in CI.
        await using var gateway = await TestGateway.StartAsync(new Dictionary<string, string?> { ["Ingest:WebSocket:IdleTimeoutMs"] = "2500" });
        await using var idle = await TestClient.ConnectAsync(gateway.WebSocketUri);
        await using var busy = await TestClient.ConnectAsync(gateway.WebSocketUri);
        await idle.SendAndWaitAckAsync(Valid);
        var clock = Stopwatch.StartNew();
        var idleClosed = Task.Run(
            async () =>
            {
                await idle.WaitForCloseAsync(TimeSpan.FromSeconds(20));
                return clock.Elapsed;
            },
            TestContext.Current.CancellationToken);

        // The busy client sends a message every 250 ms for 5.5 s (two idle timeouts and the check's
        // period), not waiting for its acks, so that a slow ack cannot stretch a gap. It stops early
        // only if the gateway closed it, which the assertions below then report.
        using (var every250Ms = new PeriodicTimer(TimeSpan.FromMilliseconds(250)))
        {
            while (clock.Elapsed < TimeSpan.FromSeconds(5.5) && !busy.IsClosed)
            {
                await busy.SendAsync(Valid);
                await every250Ms.WaitForNextTickAsync(TestContext.Current.CancellationToken);
            }
        }

        Assert.False(busy.IsClosed, $"the busy connection was closed: {busy.CloseStatus} {busy.CloseDescription}");
        var idleClosedAfter = await idleClosed;
        Assert.Equal(WebSocketCloseStatus.NormalClosure, idle.CloseStatus);
        Assert.Equal("idle for 2500 ms", idle.CloseDescription);
        Assert.InRange(idleClosedAfter, TimeSpan.FromMilliseconds(2_400), TimeSpan.FromSeconds(12));
        Assert.Equal(1, idle.AckedUpTo);

        Assert.True(busy.Sent >= 10, $"only {busy.Sent} messages in 5.5 s");
        await busy.WaitForAckAsync(busy.Sent);
        await busy.SendAndWaitAckAsync(Valid);
        await busy.CloseAsync();
        Assert.Equal(WebSocketCloseStatus.NormalClosure, busy.CloseStatus);
        Assert.Empty(busy.Errors);
    }
}
