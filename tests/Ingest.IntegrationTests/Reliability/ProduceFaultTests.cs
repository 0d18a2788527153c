using Confluent.Kafka;
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
public sealed class ProduceFaultTests
{
    private const short Produce = 0;

    [Fact]
    public async Task InjectedProduceErrors_AndLeaderMoves_MidLoad_EveryEventAcked_LandsExactlyOnce()
    {
        const int clients = 4, eventsPerClient = 1_000;
        using var cluster = EmbeddedKafkaCluster.Start(brokerCount: 3);
        await using var gateway = await TestGateway.StartAsync(cluster: cluster);
        await FaultyLoad.RunAsync(gateway.WebSocketUri, clients, eventsPerClient, () =>
        {
            // The faults: the next six produce requests fail with retriable errors, and every partition's leader moves.
            cluster.PushRequestErrors(
                Produce,
                ErrorCode.NotLeaderForPartition,
                ErrorCode.RequestTimedOut,
                ErrorCode.NotEnoughReplicas,
                ErrorCode.NotEnoughReplicasAfterAppend,
                ErrorCode.NotLeaderForPartition,
                ErrorCode.RequestTimedOut);
            foreach (var partition in TopicWatermarks.GetPartitions(cluster.BootstrapServers, gateway.Topic, TimeSpan.FromSeconds(10)))
            {
                cluster.SetPartitionLeader(gateway.Topic, partition, brokerId: (partition % 3) + 1);
            }

            return Task.CompletedTask;
        });

        var records = TopicReader.ReadAll(cluster.BootstrapServers, gateway.Topic, clients * eventsPerClient);
        Assert.Equal(clients * eventsPerClient, records.Select(r => r.Text).Distinct().Count());
        Assert.Equal(clients * eventsPerClient, records.Count);
    }
}
