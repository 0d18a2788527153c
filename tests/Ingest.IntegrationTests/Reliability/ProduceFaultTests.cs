using Ingest.Kafka;
using Ingest.Kafka.Embedded;
using Ingest.Testing;

namespace Ingest.IntegrationTests.Reliability;

/// <summary>
/// Kafka's retriable produce errors and partition leader moves in the middle of a load, against three
/// brokers (docs/protocol.md, "Guarantees"): the idempotent producer retries, the clients see acks
/// and no error, and every event lands exactly once. The mock cluster answers the next produce
/// requests after the push with the errors in order (the second half of the load makes them);
/// librdkafka retries them as message retries, which its statistics (`txretries`) do not count.
/// </summary>
/// <remarks>
/// One produce request in flight per broker, because of the mock: it checks sequence numbers only
/// for transactional producers, so when request R1 fails and R2 (in flight behind it) succeeds it
/// stores R2 with a gap, and librdkafka, seeing R2 written, reports R1 delivered (as it must have
/// been on Apache Kafka, which rejects R2 with OUT_OF_ORDER_SEQUENCE_NUMBER). With five in flight
/// this lost 1 to 4 acked events per fault on the mock (RELIABILITY.md); the transactional mode,
/// whose sequences the mock does check, runs the same faults with five (TransactionalDeliveryTests).
/// </remarks>
public sealed class ProduceFaultTests
{
    [Fact]
    public async Task InjectedProduceErrors_AndLeaderMoves_MidLoad_EveryEventAcked_LandsExactlyOnce()
    {
        const int clients = 4, eventsPerClient = 1_000;
        using var cluster = EmbeddedKafkaCluster.Start(brokerCount: 3);
        await using var gateway = await TestGateway.StartAsync(
            new Dictionary<string, string?> { ["Ingest:Kafka:Producer:max.in.flight.requests.per.connection"] = "1" },
            cluster);
        await FaultyLoad.RunAsync(gateway.WebSocketUri, clients, eventsPerClient, () =>
        {
            FaultyLoad.ProduceErrorsAndLeaderMoves(cluster, gateway);
            return Task.CompletedTask;
        });

        var records = TopicReader.ReadAll(cluster.BootstrapServers, gateway.Topic, clients * eventsPerClient);
        var appended = TopicWatermarks.CountAppended(cluster.BootstrapServers, gateway.Topic, TimeSpan.FromSeconds(10));
        var texts = records.Select(r => r.Text).ToHashSet();
        var missing = Enumerable.Range(0, clients).SelectMany(c => Enumerable.Range(0, eventsPerClient).Select(i => FaultyLoad.Event($"c{c}", i))).Where(t => !texts.Contains(t)).Take(5);
        Assert.True(texts.Count == clients * eventsPerClient, $"{texts.Count} distinct of {clients * eventsPerClient} events in the topic ({appended} appended), missing e.g. {string.Join("; ", missing)}");
        Assert.Equal(clients * eventsPerClient, records.Select(r => r.Text).Distinct().Count());
        Assert.Equal(clients * eventsPerClient, records.Count);
    }
}
