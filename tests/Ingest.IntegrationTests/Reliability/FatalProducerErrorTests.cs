using Confluent.Kafka;
using Ingest.Kafka.Embedded;
using Ingest.Testing;

namespace Ingest.IntegrationTests.Reliability;

/// <summary>
/// OUT_OF_ORDER_SEQUENCE_NUMBER on the first produce request in flight means the broker and the
/// idempotent producer disagree about what was stored: librdkafka makes it a fatal error, after
/// which the producer cannot guarantee once-ness for that partition. The gateway (docs/protocol.md,
/// "Guarantees") logs it as critical and shuts down gracefully with exit code 1, answering every
/// message read and not delivered with an error (never with a success ack); the orchestrator starts
/// it again. Nothing acked is lost, and clients that send again what was not delivered lose nothing.
/// </summary>
public sealed class FatalProducerErrorTests
{
    private const short Produce = 0;
    private const int Clients = 4;
    private const int PerPhase = 100;

    [Fact]
    public async Task OutOfOrderSequence_IsFatal_GatewayExits1_NoUndeliveredEventAcked_RestartedResendsLoseNothing()
    {
        using var cluster = EmbeddedKafkaCluster.Start(brokerCount: 1);
        cluster.CreateTopic("events", partitions: 4);
        cluster.CreateTopic("events.dlq", partitions: 1);
        var settings = new Dictionary<string, string> { ["Ingest:Kafka:BootstrapServers"] = cluster.BootstrapServers };

        var delivered = new HashSet<(int Client, int Number)>(); // acked without an error: must be in Kafka once
        var resend = new List<(int Client, int Number)>();
        await using (var first = GatewayProcessHost.Start(settings))
        {
            await first.WaitUntilReadyAsync();
            var clients = new List<TestClient>();
            try
            {
                for (var c = 0; c < Clients; c++)
                {
                    clients.Add(await TestClient.ConnectAsync(first.WebSocketUri));
                }

                // Phase 1: events 0-99 of each client, delivered and acked.
                for (var c = 0; c < Clients; c++)
                {
                    for (var n = 0; n < PerPhase; n++)
                    {
                        await clients[c].SendAsync(FaultyLoad.Event($"c{c}", n));
                    }
                }

                await Task.WhenAll(clients.Select(client => client.WaitForAckAsync(PerPhase)));
                Assert.All(clients, client => Assert.Empty(client.Errors));

                // The fault on the next produce request, then events 100-199 of each client.
                cluster.PushRequestErrors(Produce, ErrorCode.OutOfOrderSequenceNumber);
                for (var c = 0; c < Clients; c++)
                {
                    for (var n = PerPhase; n < 2 * PerPhase; n++)
                    {
                        await clients[c].SendAsync(FaultyLoad.Event($"c{c}", n));
                    }
                }

                Assert.True(await first.WaitForExitAsync(TimeSpan.FromSeconds(40)), "the gateway went on after a fatal producer error");
                Assert.Equal(1, first.ExitCode);
                Assert.Contains(first.Output, line => line.Contains("Fatal Kafka producer error", StringComparison.Ordinal) && line.Contains("OutOfOrderSequenceNumber", StringComparison.Ordinal));
                foreach (var client in clients)
                {
                    await client.WaitForCloseAsync();
                }

                // What each client heard: a message acked without an error frame was delivered; every
                // other message (an error frame, or no ack before the close) is sent again.
                for (var c = 0; c < Clients; c++)
                {
                    var failed = clients[c].Errors.Select(e => e.Seq).ToHashSet();
                    for (var n = 0; n < 2 * PerPhase; n++)
                    {
                        var seq = n + 1;
                        if (seq <= clients[c].AckedUpTo && !failed.Contains(seq))
                        {
                            delivered.Add((c, n));
                        }
                        else
                        {
                            resend.Add((c, n));
                        }
                    }
                }
            }
            finally
            {
                foreach (var client in clients)
                {
                    await client.DisposeAsync();
                }
            }
        }

        Assert.NotEmpty(resend); // the fault cost something: not every event was delivered

        // A new process (as the orchestrator starts one); the clients send again what was not delivered.
        await using (var second = GatewayProcessHost.Start(settings))
        {
            await second.WaitUntilReadyAsync();
            foreach (var group in resend.GroupBy(e => e.Client))
            {
                await using var client = await TestClient.ConnectAsync(second.WebSocketUri);
                foreach (var (c, n) in group)
                {
                    await client.SendAsync(FaultyLoad.Event($"c{c}", n));
                }

                await client.WaitForAckAsync(group.Count());
                Assert.Empty(client.Errors);
            }
        }

        // Every event in Kafka; an event acked as delivered exactly once. A resent one may be there
        // twice: it may have been stored although its request failed (at-least-once).
        var records = TopicReader.ReadAll(cluster.BootstrapServers, "events", Clients * 2 * PerPhase);
        var copies = records.GroupBy(r => r.Text).ToDictionary(g => g.Key, g => g.Count());
        TestContext.Current.TestOutputHelper?.WriteLine($"out-of-order sequence: {delivered.Count} delivered before the exit, {resend.Count} sent again, {records.Count} records");
        for (var c = 0; c < Clients; c++)
        {
            for (var n = 0; n < 2 * PerPhase; n++)
            {
                var found = copies.GetValueOrDefault(FaultyLoad.Event($"c{c}", n));
                Assert.True(delivered.Contains((c, n)) ? found == 1 : found >= 1, $"event c{c} {n} ({(delivered.Contains((c, n)) ? "acked" : "sent again")}) is in Kafka {found} times");
            }
        }
    }
}
