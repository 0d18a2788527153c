using Confluent.Kafka;
using Ingest.Kafka;
using Ingest.Kafka.Embedded;
using Ingest.Testing;

namespace Ingest.IntegrationTests.Reliability;

/// <summary>
/// A load with a fault in its middle: clients that each send single events and wait for every ack
/// (and no error), with the fault injected once every client has sent half of its events.
/// </summary>
internal static class FaultyLoad
{
    public static Task RunAsync(Uri webSocketUri, int clients, int eventsPerClient, Func<Task> fault) =>
        RunAsync(webSocketUri, clients, eventsPerClient, _ => fault());

    /// <summary>As above; the fault is given the number of events acked so far over all clients, to watch the acks during it.</summary>
    public static async Task RunAsync(Uri webSocketUri, int clients, int eventsPerClient, Func<Func<long>, Task> fault)
    {
        using var halfway = new CountdownEvent(clients);
        var connected = new System.Collections.Concurrent.ConcurrentBag<TestClient>();
        var load = Parallel.ForEachAsync(Enumerable.Range(0, clients), new ParallelOptions { MaxDegreeOfParallelism = clients }, async (c, _) =>
        {
            await using var client = await TestClient.ConnectAsync(webSocketUri);
            connected.Add(client);
            for (var i = 0; i < eventsPerClient; i++)
            {
                if (i == eventsPerClient / 2)
                {
                    halfway.Signal();
                }

                await client.SendAsync(Event($"c{c}", i));
            }

            await client.WaitForAckAsync(eventsPerClient, TimeSpan.FromSeconds(120));
            Assert.Empty(client.Errors);
        });

        await Task.Run(() => halfway.Wait(TimeSpan.FromSeconds(60)), TestContext.Current.CancellationToken);
        await fault(() => connected.Sum(c => c.AckedUpTo));
        await load;
    }

    /// <summary>The fault of the broker-down tests: broker 1 down for <paramref name="outage"/>, then up; returns <c>/readyz</c>'s status at the end of the outage.</summary>
    public static async Task<System.Net.HttpStatusCode> BrokerOutageAsync(EmbeddedKafkaCluster cluster, TestGateway gateway, TimeSpan outage)
    {
        cluster.SetBrokerDown(1);
        try
        {
            await Task.Delay(outage, TestContext.Current.CancellationToken);
            using var readyz = await gateway.Http.GetAsync(new Uri("/readyz", UriKind.Relative), TestContext.Current.CancellationToken);
            return readyz.StatusCode;
        }
        finally
        {
            cluster.SetBrokerUp(1);
        }
    }

    /// <summary>
    /// The fault of the produce-error tests: the next six produce requests fail with retriable errors
    /// (the mock answers them in order), and every partition's leader moves to another of the three brokers.
    /// </summary>
    public static void ProduceErrorsAndLeaderMoves(EmbeddedKafkaCluster cluster, TestGateway gateway)
    {
        const short produce = 0;
        cluster.PushRequestErrors(
            produce,
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
    }

    public static string Event(string clientId, int n) => $"{{\"msg\":\"{clientId} {n}\",\"clientId\":\"{clientId}\",\"timestamp\":{n}}}";
}
