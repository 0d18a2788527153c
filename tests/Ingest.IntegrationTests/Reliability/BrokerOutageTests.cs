using System.Diagnostics;
using System.Globalization;
using System.Net;
using Ingest.Contracts;
using Ingest.Kafka.Embedded;
using Ingest.Testing;

namespace Ingest.IntegrationTests.Reliability;

/// <summary>
/// The broker down for longer (docs/protocol.md, "Guarantees"): for 30 s, well inside the delivery
/// timeout, the acks pause and then everything lands once; for longer than the delivery timeout, the
/// waiting events are answered with <c>delivery_failed</c> (not before the timeout), clients that
/// send them again lose nothing, no acked event is stored twice, and the gateway recovers without a
/// restart. (The five-second outage is <c>WebSockets/ResilienceTests</c>.)
/// </summary>
public sealed class BrokerOutageTests
{
    [Fact]
    public async Task BrokerDownThirtySeconds_MidLoad_AcksPauseWhileDown_ThenEveryEventLandsOnce()
    {
        const int clients = 4, eventsPerClient = 1_000;
        using var cluster = EmbeddedKafkaCluster.Start(brokerCount: 1);
        await using var gateway = await TestGateway.StartAsync(cluster: cluster);
        long ackedSoonAfterDown = -1, ackedBeforeUp = -1;
        HttpResponseMessage? readyz = null;

        await FaultyLoad.RunAsync(gateway.WebSocketUri, clients, eventsPerClient, async acked =>
        {
            cluster.SetBrokerDown(1);
            // The fault: thirty seconds without a broker while the clients keep sending. Acks for
            // records already in flight may still come in the first moments; after that, none.
            await Task.Delay(TimeSpan.FromSeconds(5), TestContext.Current.CancellationToken);
            ackedSoonAfterDown = acked();
            await Task.Delay(TimeSpan.FromSeconds(25), TestContext.Current.CancellationToken);
            ackedBeforeUp = acked();
            readyz = await gateway.Http.GetAsync(new Uri("/readyz", UriKind.Relative), TestContext.Current.CancellationToken);
            cluster.SetBrokerUp(1);
        });

        Assert.Equal(HttpStatusCode.ServiceUnavailable, readyz!.StatusCode);
        Assert.True(ackedSoonAfterDown < clients * eventsPerClient, $"every event was acked before the outage ({ackedSoonAfterDown})");
        Assert.Equal(ackedSoonAfterDown, ackedBeforeUp);
        var records = TopicReader.ReadAll(cluster.BootstrapServers, gateway.Topic, clients * eventsPerClient);
        Assert.Equal(clients * eventsPerClient, records.Select(r => r.Text).Distinct().Count());
        Assert.Equal(clients * eventsPerClient, records.Count);
    }

    [Fact]
    public async Task BrokerDownPastTheDeliveryTimeout_DeliveryFailedAfterTheTimeout_ResentEventsLand_AckedOnesOnce_Recovers()
    {
        const int clients = 4, perPhase = 100, deliveryTimeoutMs = 3_000;
        using var cluster = EmbeddedKafkaCluster.Start(brokerCount: 1);
        await using var gateway = await TestGateway.StartAsync(
            new Dictionary<string, string?> { ["Ingest:Kafka:DeliveryTimeoutMs"] = deliveryTimeoutMs.ToString(CultureInfo.InvariantCulture) },
            cluster);
        var connections = new List<TestClient>();
        try
        {
            for (var c = 0; c < clients; c++)
            {
                connections.Add(await TestClient.ConnectAsync(gateway.WebSocketUri));
            }

            // Phase 1, Kafka up: events 0-99 of each client, all acked without error.
            await Task.WhenAll(connections.Select((client, c) => SendAsync(client, c, 0, perPhase)));
            await Task.WhenAll(connections.Select(client => client.WaitForAckAsync(perPhase)));
            Assert.All(connections, client => Assert.Empty(client.Errors));

            // Phase 2, the broker down: events 100-199 wait, then each is answered delivery_failed,
            // not before the delivery timeout, and acked as answered (the ack covers the error).
            cluster.SetBrokerDown(1);
            var sentAt = Stopwatch.StartNew();
            await Task.WhenAll(connections.Select((client, c) => SendAsync(client, c, perPhase, perPhase)));
            await Task.WhenAll(connections.Select(client => client.WaitForAckAsync(2 * perPhase, TimeSpan.FromSeconds(60))));
            var answeredAfter = sentAt.Elapsed;
            Assert.All(connections, client =>
            {
                Assert.Equal(Enumerable.Range(perPhase + 1, perPhase).Select(n => (long)n), client.Errors.Select(e => e.Seq).Order());
                Assert.All(client.Errors, e => Assert.Equal(ErrorCodes.DeliveryFailed, e.Code));
            });
            Assert.True(answeredAfter >= TimeSpan.FromMilliseconds(deliveryTimeoutMs), $"delivery_failed came after {answeredAfter.TotalMilliseconds:0} ms, before the {deliveryTimeoutMs} ms delivery timeout");

            // Phase 3, the broker back: without a restart the gateway is ready again. The clients
            // send the failed events again (100-199), then new ones (200-299), and send again
            // whatever is answered delivery_failed: until librdkafka has reconnected (its backoff
            // grows to reconnect.backoff.max.ms, 10 s) a record can still time out.
            cluster.SetBrokerUp(1);
            await WaitUntilReadyAsync(gateway, TimeSpan.FromSeconds(30));
            var recovering = Stopwatch.StartNew();
            var rounds = await Task.WhenAll(connections.Select((client, c) => SendUntilDeliveredAsync(client, c, Enumerable.Range(perPhase, 2 * perPhase), TimeSpan.FromSeconds(60))));
            TestContext.Current.TestOutputHelper?.WriteLine($"broker past the delivery timeout: delivery_failed after {answeredAfter.TotalMilliseconds:0} ms; after the broker came back every event was delivered within {recovering.Elapsed.TotalMilliseconds:0} ms, in at most {rounds.Max()} sendings");
        }
        finally
        {
            foreach (var client in connections)
            {
                await client.DisposeAsync();
            }
        }

        // Every event is in Kafka. Those acked at their first sending (0-99) exactly once; the others
        // at least once: a record reported failed may still have landed (librdkafka had sent it, the
        // answer was lost), and its resend is a second copy (at-least-once).
        var records = TopicReader.ReadAll(cluster.BootstrapServers, gateway.Topic, clients * 3 * perPhase);
        var copies = records.GroupBy(r => r.Text).ToDictionary(g => g.Key, g => g.Count());
        for (var c = 0; c < clients; c++)
        {
            for (var n = 0; n < 3 * perPhase; n++)
            {
                var text = FaultyLoad.Event($"c{c}", n);
                var found = copies.GetValueOrDefault(text);
                if (n >= perPhase)
                {
                    Assert.True(found >= 1, $"resent event {text} is not in Kafka");
                }
                else
                {
                    Assert.True(found == 1, $"acked event {text} is in Kafka {found} times");
                }
            }
        }
    }

    [Fact]
    public async Task BrokerDownPastTheDeliveryTimeout_ABatchAndAnEvent_AreTwoMessagesAnsweredDeliveryFailed_CountedAsTwo()
    {
        using var cluster = EmbeddedKafkaCluster.Start(brokerCount: 1);
        await using var gateway = await TestGateway.StartAsync(
            new Dictionary<string, string?> { ["Ingest:Kafka:DeliveryTimeoutMs"] = "3000" },
            cluster);
        await using var client = await TestClient.ConnectAsync(gateway.WebSocketUri);
        await client.SendAndWaitAckAsync(FaultyLoad.Event("c0", 0));

        cluster.SetBrokerDown(1);
        // A batch of five events on five keys (so in several partitions), then one event.
        await client.SendAsync($"[{string.Join(',', Enumerable.Range(1, 5).Select(n => FaultyLoad.Event($"c{n}", n)))}]");
        await client.SendAsync(FaultyLoad.Event("c0", 6));
        await client.WaitForAckAsync(3, TimeSpan.FromSeconds(60));

        Assert.Equal([2L, 3L], client.Errors.Select(e => e.Seq).Order()); // in either order: each message resolves on its own
        Assert.All(client.Errors, e => Assert.Equal(ErrorCodes.DeliveryFailed, e.Code));
        // Counted per message answered, as /stats and ingest.messages.delivery_failed say: two, not six.
        var stats = GatewayStats.Parse(await gateway.Http.GetStringAsync(new Uri("/stats", UriKind.Relative), TestContext.Current.CancellationToken));
        Assert.Equal(2L, stats.MessagesDeliveryFailed);
        Assert.Equal(1L, stats.EventsDelivered);
        cluster.SetBrokerUp(1);
    }

    /// <summary>
    /// Sends events <paramref name="numbers"/>, then again those answered with an error, until every
    /// one is acked without one; returns how many sendings that took.
    /// </summary>
    private static async Task<int> SendUntilDeliveredAsync(TestClient client, int c, IEnumerable<int> numbers, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        var pending = numbers.ToList();
        for (var round = 1; ; round++)
        {
            var first = client.Sent + 1;
            await SendAsync(client, c, pending);
            await client.WaitForAckAsync(client.Sent, deadline - DateTime.UtcNow);
            var failed = client.Errors.Where(e => e.Seq >= first).ToList();
            Assert.All(failed, e => Assert.Equal(ErrorCodes.DeliveryFailed, e.Code));
            if (failed.Count == 0)
            {
                return round;
            }

            pending = [.. failed.Select(e => pending[(int)(e.Seq - first)])];
            Assert.True(DateTime.UtcNow < deadline, $"client c{c}: {pending.Count} events still not delivered after {timeout.TotalSeconds:0} s");
        }
    }

    private static Task SendAsync(TestClient client, int c, int from, int count) => SendAsync(client, c, Enumerable.Range(from, count));

    private static async Task SendAsync(TestClient client, int c, IEnumerable<int> numbers)
    {
        foreach (var n in numbers)
        {
            await client.SendAsync(FaultyLoad.Event($"c{c}", n));
        }
    }

    private static async Task WaitUntilReadyAsync(TestGateway gateway, TimeSpan timeout)
    {
        using var timer = new PeriodicTimer(TimeSpan.FromMilliseconds(100));
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            using var response = await gateway.Http.GetAsync(new Uri("/readyz", UriKind.Relative), TestContext.Current.CancellationToken);
            var status = response.StatusCode;
            if (status == HttpStatusCode.OK)
            {
                return;
            }

            Assert.True(DateTime.UtcNow < deadline, $"/readyz still {(int)status} {timeout.TotalSeconds:0} s after the broker came back");
            await timer.WaitForNextTickAsync(TestContext.Current.CancellationToken);
        }
    }
}
