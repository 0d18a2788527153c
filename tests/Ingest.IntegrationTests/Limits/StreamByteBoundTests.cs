using System.Globalization;
using System.Text.Json;
using Ingest.Gateway.Streaming;
using Ingest.Testing;

namespace Ingest.IntegrationTests.Limits;

/// <summary>
/// A <c>/stream</c> subscriber's queue is bounded in bytes (<c>Ingest:Stream:QueueBytes</c>) as well
/// as in events: a paused subscriber of 1 KB events loses them once about 4 KB wait for it, long
/// before its 1024 events would, and it is told exactly what it lost.
/// </summary>
public sealed class StreamByteBoundTests
{
    private const int QueueCapacity = 1_024;

    [Fact]
    public async Task PausedSubscriber_LosesEventsPastQueueBytes_AndDeliveredPlusDroppedAccountsForEveryEvent()
    {
        await using var gateway = await TestGateway.StartAsync(new Dictionary<string, string?>
        {
            ["Ingest:Stream:QueueBytes"] = "4096",
            ["Ingest:Stream:QueueCapacity"] = QueueCapacity.ToString(CultureInfo.InvariantCulture),
        });
        var hub = gateway.GetService<StreamHub>();
        await using var subscriber = await SseClient.ConnectAsync(gateway.HttpUri, "/stream?clientId=paused", receiveBufferSize: 4096);
        await subscriber.WaitForReadyAsync();
        subscriber.Pause();

        // Batches of 20 events of about 1 KB until the gateway has dropped at least a batch's worth
        // for the paused subscriber (its socket and the gateway's writes hold a few hundred KB
        // first), then two batches more. (Waiting for the first drop only was not enough: a
        // fresh-clone run saw 16 dropped, the socket still taking some of the two batches after it.)
        var padding = new string('p', 1_000);
        var sent = 0;
        await using (var ws = await TestClient.ConnectAsync(gateway.WebSocketUri))
        {
            for (var extra = 0; extra < 2 && sent < 20_000; sent += 20)
            {
                await ws.SendAsync("[" + string.Join(',', Enumerable.Range(sent, 20).Select(i => $"{{\"msg\":\"{i}\",\"clientId\":\"paused\",\"timestamp\":{i},\"pad\":\"{padding}\"}}")) + "]");
                await ws.WaitForAckAsync(ws.Sent);
                await Poll.UntilAsync(() => hub.Published >= sent + 20, "the batch to reach the stream");
                if (gateway.Metrics.Snapshot(0, 0).StreamDropped >= 20)
                {
                    extra++;
                }
            }
        }

        var dropped = gateway.Metrics.Snapshot(0, 0).StreamDropped;
        subscriber.Resume();
        await subscriber.WaitUntilAsync(() => subscriber.TelemetryCount + subscriber.DroppedTotal >= sent, "every event delivered or declared dropped");

        // Walk the stream: each notice stands exactly for the events missing at its place.
        var next = 0L;
        foreach (var e in subscriber.Events.Where(e => e.Type is "telemetry" or "dropped"))
        {
            using var data = JsonDocument.Parse(e.Data);
            if (e.Type == "dropped")
            {
                next += data.RootElement.GetProperty("dropped").GetInt64();
            }
            else
            {
                Assert.Equal(next.ToString(CultureInfo.InvariantCulture), data.RootElement.GetProperty("event").GetProperty("msg").GetString());
                next++;
            }
        }

        TestContext.Current.TestOutputHelper?.WriteLine($"{sent} events: {subscriber.TelemetryCount} delivered, {subscriber.DroppedTotal} dropped");
        Assert.Equal(sent, next);
        Assert.Equal(sent, subscriber.TelemetryCount + subscriber.DroppedTotal);
        Assert.Equal(dropped, subscriber.DroppedTotal);
        Assert.True(dropped >= 20, $"only {dropped} dropped");
        // What reached the subscriber is what its socket and the gateway's writes held plus ~4 KB of
        // queue (3 frames): were the queue bounded only in events, 1024 more would have come through first.
        Assert.InRange(subscriber.TelemetryCount, 1, QueueCapacity - 1);
    }
}
