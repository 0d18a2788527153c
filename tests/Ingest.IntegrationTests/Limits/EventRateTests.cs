using System.Diagnostics;
using Ingest.Testing;

namespace Ingest.IntegrationTests.Limits;

/// <summary>
/// The per-connection event rate (<c>Ingest:Limits:EventsPerSecond</c>, <c>EventBurst</c>): a client
/// past it is read more slowly, and nothing it sends is dropped or refused.
/// </summary>
public sealed class EventRateTests
{
    [Fact]
    public async Task ClientSendingFasterThanItsRate_IsSlowedToTheRate_AndEveryEventIsAcked()
    {
        const int rate = 500, burst = 1_000, events = 2_500;
        await using var gateway = await TestGateway.StartAsync(new Dictionary<string, string?>
        {
            ["Ingest:Limits:EventsPerSecond"] = rate.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["Ingest:Limits:EventBurst"] = burst.ToString(System.Globalization.CultureInfo.InvariantCulture),
        });
        await using var client = await TestClient.ConnectAsync(gateway.WebSocketUri);

        var clock = Stopwatch.StartNew();
        for (var i = 0; i < events; i++)
        {
            await client.SendAsync($"{{\"msg\":\"{i}\",\"clientId\":\"fast\",\"timestamp\":{i}}}");
        }

        await client.WaitForAckAsync(events, TimeSpan.FromSeconds(60));
        var elapsed = clock.Elapsed;
        TestContext.Current.TestOutputHelper?.WriteLine($"{events} events acked after {elapsed.TotalMilliseconds:F0} ms");

        // The burst goes at once, the rest at the rate: (2500 - 1000) / 500 = 3 s, less at most one
        // 100 ms replenishment step. Unlimited, loopback takes these in well under a second.
        var expected = TimeSpan.FromSeconds((double)(events - burst) / rate);
        Assert.InRange(elapsed, expected - TimeSpan.FromMilliseconds(300), expected + TimeSpan.FromSeconds(20));
        Assert.Empty(client.Errors);
        Assert.False(client.IsClosed);
        var records = TopicReader.ReadAll(gateway.Kafka.BootstrapServers, gateway.Topic, events);
        Assert.Equal(events, records.Select(r => r.Text).Distinct().Count());
        Assert.Equal(events, records.Count);
    }
}
