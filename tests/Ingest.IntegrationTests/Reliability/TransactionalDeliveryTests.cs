using System.Net;
using System.Net.WebSockets;
using Confluent.Kafka;
using Ingest.Contracts;
using Ingest.Kafka;
using Ingest.Kafka.Embedded;
using Ingest.Testing;

namespace Ingest.IntegrationTests.Reliability;

/// <summary>
/// <c>Ingest:Kafka:Delivery=Transactional</c> (docs/protocol.md, "Guarantees"): each producer batch
/// is one Kafka transaction, acks go out after its commit, and every acked event lands exactly once
/// under broker loss, leader moves and injected produce errors. The mock cluster de-duplicates
/// retries of transactional producers (it does not for idempotent ones), so exactly-once is checked
/// by counting. It does not enforce <c>read_committed</c> on fetch: an aborted transaction's records
/// would be visible to the reader, so the abort test checks what the client is told and that the
/// failed produce stored nothing, and the transactions themselves are seen through the control
/// records (commit markers) that take offsets in the partitions.
/// </summary>
public sealed class TransactionalDeliveryTests
{
    private const short Produce = 0;

    private static Dictionary<string, string?> Transactional(string id, Dictionary<string, string?>? more = null)
    {
        var settings = new Dictionary<string, string?>
        {
            ["Ingest:Kafka:Delivery"] = "Transactional",
            ["Ingest:Kafka:TransactionalId"] = id,
        };
        foreach (var (key, value) in more ?? [])
        {
            settings[key] = value;
        }

        return settings;
    }

    [Fact]
    public async Task Transactional_EveryAckedEventLandsExactlyOnce_InCommittedTransactions()
    {
        const int clients = 4, messagesPerClient = 50, eventsPerMessage = 10;
        using var cluster = EmbeddedKafkaCluster.Start(brokerCount: 1);
        await using var gateway = await TestGateway.StartAsync(Transactional("tx-plain"), cluster);

        await Parallel.ForEachAsync(Enumerable.Range(0, clients), new ParallelOptions { MaxDegreeOfParallelism = clients }, async (c, _) =>
        {
            await using var client = await TestClient.ConnectAsync(gateway.WebSocketUri);
            for (var m = 0; m < messagesPerClient; m++)
            {
                await client.SendAsync("[" + string.Join(',', Enumerable.Range(m * eventsPerMessage, eventsPerMessage).Select(n => FaultyLoad.Event($"c{c}", n))) + "]");
            }

            await client.WaitForAckAsync(messagesPerClient, TimeSpan.FromSeconds(60));
            Assert.Empty(client.Errors);
        });

        const int sent = clients * messagesPerClient * eventsPerMessage;
        var records = TopicReader.ReadAll(cluster.BootstrapServers, gateway.Topic, sent);
        Assert.Equal(sent, records.Select(r => r.Text).Distinct().Count());
        Assert.Equal(sent, records.Count);
        var (committed, aborted) = gateway.Metrics.Transactions;
        Assert.Equal(0, aborted);
        Assert.InRange(committed, 1, clients * messagesPerClient);
        // Each commit writes a control record (a marker) to every partition it touched: offsets beyond the records.
        var markers = TopicWatermarks.CountAppended(cluster.BootstrapServers, gateway.Topic, TimeSpan.FromSeconds(10)) - records.Count;
        Assert.InRange(markers, 1, committed * 4);
    }

    [Fact]
    public async Task Transactional_BrokerDownFiveSeconds_MidLoad_EveryEventAcked_LandsExactlyOnce()
    {
        const int clients = 8, eventsPerClient = 1_000;
        using var cluster = EmbeddedKafkaCluster.Start(brokerCount: 1);
        await using var gateway = await TestGateway.StartAsync(Transactional("tx-broker-down"), cluster);
        var readyz = HttpStatusCode.OK;

        // The fault: five seconds without the broker while the clients keep sending.
        await FaultyLoad.RunAsync(gateway.WebSocketUri, clients, eventsPerClient, async () => readyz = await FaultyLoad.BrokerOutageAsync(cluster, gateway, TimeSpan.FromSeconds(5)));

        Assert.Equal(HttpStatusCode.ServiceUnavailable, readyz);
        var records = TopicReader.ReadAll(cluster.BootstrapServers, gateway.Topic, clients * eventsPerClient);
        Assert.Equal(clients * eventsPerClient, records.Select(r => r.Text).Distinct().Count());
        Assert.Equal(clients * eventsPerClient, records.Count);
        Assert.Equal(0, gateway.Metrics.Transactions.Aborted);
    }

    [Fact]
    public async Task Transactional_InjectedProduceErrors_AndLeaderMoves_On3Brokers_EveryEventAcked_LandsExactlyOnce()
    {
        const int clients = 4, eventsPerClient = 1_000;
        using var cluster = EmbeddedKafkaCluster.Start(brokerCount: 3);
        await using var gateway = await TestGateway.StartAsync(Transactional("tx-produce-faults"), cluster);

        await FaultyLoad.RunAsync(gateway.WebSocketUri, clients, eventsPerClient, () =>
        {
            FaultyLoad.ProduceErrorsAndLeaderMoves(cluster, gateway);
            return Task.CompletedTask;
        });

        var records = TopicReader.ReadAll(cluster.BootstrapServers, gateway.Topic, clients * eventsPerClient);
        Assert.Equal(clients * eventsPerClient, records.Select(r => r.Text).Distinct().Count());
        Assert.Equal(clients * eventsPerClient, records.Count);
        Assert.Equal(0, gateway.Metrics.Transactions.Aborted);
    }

    [Fact]
    public async Task Transactional_AbortedTransaction_MessageAnsweredDeliveryFailed_NoneOfItsEventsStored_TheResendLandsOnce()
    {
        using var cluster = EmbeddedKafkaCluster.Start(brokerCount: 1);
        await using var gateway = await TestGateway.StartAsync(Transactional("tx-abort"), cluster);
        await using var client = await TestClient.ConnectAsync(gateway.WebSocketUri);
        // Ten events of one clientId: one key, one partition, one produce request.
        var batch = "[" + string.Join(',', Enumerable.Range(0, 10).Select(n => FaultyLoad.Event("c", n))) + "]";

        // A permanent produce error: the record batch fails, the transaction can only abort. (Not
        // an authorization error: librdkafka would then refuse the topic until its next metadata.)
        cluster.PushRequestErrors(Produce, ErrorCode.InvalidRecord);
        await client.SendAsync(batch);
        var error = await client.WaitForErrorAsync(1, TimeSpan.FromSeconds(30));
        await client.WaitForAckAsync(1);

        // The client sends the message again, as delivery_failed asks, until it is acked without an error.
        var seq = 1L;
        while (client.Errors.Any(e => e.Seq == seq) && seq < 5)
        {
            await client.SendAsync(batch);
            seq++;
            await client.WaitForAckAsync(seq, TimeSpan.FromSeconds(30));
        }

        Assert.Equal(ErrorCodes.DeliveryFailed, error.Code);
        Assert.Contains("InvalidRecord", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(client.Errors, e => e.Seq == seq);
        Assert.All(client.Errors, e => Assert.Equal(ErrorCodes.DeliveryFailed, e.Code));
        // One transaction per message: every delivery_failed is an aborted one, the last committed.
        Assert.Equal((1L, (long)client.Errors.Count), gateway.Metrics.Transactions);
        var records = TopicReader.ReadAll(cluster.BootstrapServers, gateway.Topic, 10);
        Assert.Equal(Enumerable.Range(0, 10).Select(n => FaultyLoad.Event("c", n)), records.OrderBy(r => r.Offset).Select(r => r.Text));
    }

    [Fact]
    public async Task Transactional_Shutdown_FinalTransactionCommits_EveryClientGetsItsFinalAck_AndEveryEventReadLandsOnce()
    {
        const int clients = 4;
        using var cluster = EmbeddedKafkaCluster.Start(brokerCount: 1);
        var gateway = await TestGateway.StartAsync(Transactional("tx-shutdown"), cluster);
        var connected = new List<TestClient>();
        for (var c = 0; c < clients; c++)
        {
            connected.Add(await TestClient.ConnectAsync(gateway.WebSocketUri));
        }

        var load = SendingLoad.Start(connected, (c, i) => FaultyLoad.Event($"c{c}", i), TestContext.Current.CancellationToken);
        foreach (var client in connected)
        {
            await client.WaitForAckAsync(50);
        }

        await gateway.StopAsync();
        foreach (var client in connected)
        {
            await client.WaitForCloseAsync(TimeSpan.FromSeconds(30));
        }

        await load.Completion;
        var eventsRead = gateway.Metrics.Snapshot(0, 0).EventsReceived;
        await gateway.DisposeAsync();

        var records = TopicReader.ReadAll(cluster.BootstrapServers, gateway.Topic, (int)eventsRead);
        var landed = records.Select(r => r.Text).ToHashSet();
        Assert.Equal(landed.Count, records.Count);
        Assert.Equal(eventsRead, records.Count);
        for (var c = 0; c < clients; c++)
        {
            var client = connected[c];
            // Closed 1001 after a final ack of everything read: nothing was left unresolved.
            Assert.Equal(WebSocketCloseStatus.EndpointUnavailable, client.CloseStatus);
            Assert.Equal(ServerFrameType.Ack, client.Frames[^1].Type);
            Assert.All(load.SentBy(c).Take((int)client.AckedUpTo), e => Assert.Contains(e, landed));
            Assert.Empty(client.Errors);
            await client.DisposeAsync();
        }
    }

    /// <remarks>
    /// A restart with the same transactional id fences the old producer on Apache Kafka. The mock
    /// cluster does not: its InitProducerId gives a second producer of the same id a new producer
    /// id and leaves the old one valid (rdkafka_mock_handlers.c, 2.15.1). So the fence is injected
    /// as the coordinator answers a fenced producer: INVALID_PRODUCER_EPOCH to AddPartitionsToTxn.
    /// </remarks>
    [Fact]
    public async Task Transactional_ProducerFenced_GatewayStopsWithExitCode1_AndDoesNotAckWhatItCouldNotCommit()
    {
        const short addPartitionsToTxn = 24;
        using var cluster = EmbeddedKafkaCluster.Start(brokerCount: 1);
        cluster.CreateTopic("events", partitions: 4);
        cluster.CreateTopic("events.dlq", partitions: 1);
        await using var gateway = GatewayProcessHost.Start(new Dictionary<string, string>
        {
            ["Ingest:Kafka:BootstrapServers"] = cluster.BootstrapServers,
            ["Ingest:Kafka:Delivery"] = "Transactional",
            ["Ingest:Kafka:TransactionalId"] = "tx-fence",
            ["Ingest:Shutdown:TimeoutMs"] = "5000",
        });
        await gateway.WaitUntilReadyAsync();
        await using var client = await TestClient.ConnectAsync(gateway.WebSocketUri);
        await client.SendAndWaitAckAsync(FaultyLoad.Event("c", 1));

        cluster.PushRequestErrors(addPartitionsToTxn, ErrorCode.InvalidProducerEpoch);
        await client.SendAsync(FaultyLoad.Event("c", 2));

        Assert.True(await gateway.WaitForExitAsync(TimeSpan.FromSeconds(60)), $"the fenced gateway kept running; it wrote:\n{string.Join('\n', gateway.Output.TakeLast(40))}");
        Assert.Equal(1, gateway.ExitCode);
        Assert.Contains(gateway.Output, l => l.Contains("Fatal Kafka transaction error", StringComparison.Ordinal));
        // Message 2 was never acked: its commit could not happen (in general: is in doubt), as in a crash.
        await client.WaitForCloseAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(1, client.AckedUpTo);
        Assert.Empty(client.Errors);
        Assert.Equal([FaultyLoad.Event("c", 1)], TopicReader.ReadAll(cluster.BootstrapServers, "events", 1).Select(r => r.Text));
    }

    [Fact]
    public async Task Transactional_KafkaUnreachableAtStart_ExitsWithCode4_AndOneLineNamingTheSetting()
    {
        using var listener = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var deadPort = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();

        await using var gateway = GatewayProcessHost.Start(new Dictionary<string, string>
        {
            ["Ingest:Kafka:BootstrapServers"] = $"127.0.0.1:{deadPort}",
            ["Ingest:Kafka:Delivery"] = "Transactional",
            ["Ingest:Kafka:TransactionInitTimeoutMs"] = "1000",
        });

        Assert.True(await gateway.WaitForExitAsync(TimeSpan.FromSeconds(60)), "the gateway kept running without its transactions");
        Assert.Equal(4, gateway.ExitCode);
        var line = Assert.Single(gateway.Output, l => l.StartsWith("Kafka transactions could not start", StringComparison.Ordinal));
        Assert.Contains("Ingest:Kafka:TransactionInitTimeoutMs", line, StringComparison.Ordinal);
        Assert.DoesNotContain(gateway.Output, l => l.TrimStart().StartsWith("at ", StringComparison.Ordinal));
    }
}
