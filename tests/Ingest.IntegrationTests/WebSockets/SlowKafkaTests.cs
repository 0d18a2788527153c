using System.Globalization;
using System.Net;
using Ingest.Kafka.Embedded;
using Ingest.Testing;

namespace Ingest.IntegrationTests.WebSockets;

/// <summary>
/// Kafka slower than the clients: backpressure instead of memory.
/// </summary>
/// <remarks>
/// In the measurement collection, alone: it compares the managed heap of the whole test process
/// before and after, which tests running beside it would grow (a fresh-clone CI run saw 111 MB).
/// </remarks>
[Collection(MeasurementCollection.Name)]
public sealed class SlowKafkaTests
{
    private static string Event(string clientId, int n) => $"{{\"msg\":\"{clientId} {n}\",\"clientId\":\"{clientId}\",\"timestamp\":{n}}}";

    [Fact]
    public async Task SlowKafka_FillsTheChannel_ReadersWait_AndEveryEventLandsOnce()
    {
        const int senders = 20, messagesPerSender = 100, capacity = 16;
        using var cluster = EmbeddedKafkaCluster.Start(brokerCount: 1);
        await using var gateway = await TestGateway.StartAsync(new Dictionary<string, string?>
        {
            ["Ingest:Channel:Capacity"] = capacity.ToString(CultureInfo.InvariantCulture),
            // A small librdkafka queue, so that the channel (not librdkafka) holds the backlog.
            ["Ingest:Kafka:QueueBufferingMaxKbytes"] = "64",
        }, cluster);
        cluster.SetRoundTripTime(1, TimeSpan.FromMilliseconds(500));

        var maxDepth = 0;
        var sawSaturatedReadyz = false;
        using var sampling = new CancellationTokenSource();
        var sampler = Task.Run(
            async () =>
        {
            using var timer = new PeriodicTimer(TimeSpan.FromMilliseconds(10));
            while (!sampling.IsCancellationRequested)
            {
                await timer.WaitForNextTickAsync(CancellationToken.None);
                maxDepth = Math.Max(maxDepth, gateway.Channel.Count);
                if (gateway.Channel.IsSaturated && !sawSaturatedReadyz)
                {
                    var response = await gateway.Http.GetAsync(new Uri("/readyz", UriKind.Relative), CancellationToken.None);
                    sawSaturatedReadyz |= response.StatusCode == HttpStatusCode.ServiceUnavailable
                        && (await response.Content.ReadAsStringAsync(CancellationToken.None)).Contains("channel_saturated", StringComparison.Ordinal);
                }
            }
        },
            TestContext.Current.CancellationToken);

        var managedBefore = GC.GetTotalMemory(forceFullCollection: true);
        await Parallel.ForEachAsync(Enumerable.Range(0, senders), new ParallelOptions { MaxDegreeOfParallelism = senders }, async (s, _) =>
        {
            await using var client = await TestClient.ConnectAsync(gateway.WebSocketUri);
            for (var i = 0; i < messagesPerSender; i++)
            {
                // Batches of 10 events, sent as fast as the socket takes them.
                await client.SendAsync("[" + string.Join(',', Enumerable.Range(i * 10, 10).Select(n => Event($"s{s}", n))) + "]");
            }

            await client.WaitForAckAsync(messagesPerSender, TimeSpan.FromSeconds(120));
        });
        await sampling.CancelAsync();
        await sampler;
        var managedAfter = GC.GetTotalMemory(forceFullCollection: true);

        Assert.InRange(maxDepth, capacity / 2, capacity);
        Assert.True(sawSaturatedReadyz, "/readyz should report the saturated channel");
        // Bounded memory: the backlog stayed in the sockets, not in the gateway's heap.
        Assert.True(managedAfter - managedBefore < 64 * 1024 * 1024, $"managed heap grew by {managedAfter - managedBefore} bytes");
        var records = TopicReader.ReadAll(cluster.BootstrapServers, gateway.Topic, senders * messagesPerSender * 10);
        Assert.Equal(senders * messagesPerSender * 10, records.Count);
        Assert.Equal(records.Count, records.Select(r => r.Text).Distinct().Count());
    }
}
