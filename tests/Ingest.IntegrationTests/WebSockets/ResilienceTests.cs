using System.Net;
using System.Net.WebSockets;
using System.Text.Json;
using Ingest.Contracts;
using Ingest.IntegrationTests.Reliability;
using Ingest.Kafka.Embedded;
using Ingest.Testing;

namespace Ingest.IntegrationTests.WebSockets;

/// <summary>Kafka down, Kafka unreachable, shutdown under load. (Slow Kafka: <see cref="SlowKafkaTests"/>.)</summary>
public sealed class ResilienceTests
{
    private static string Event(string clientId, int n) => $"{{\"msg\":\"{clientId} {n}\",\"clientId\":\"{clientId}\",\"timestamp\":{n}}}";

    [Fact]
    public async Task BrokerDownFiveSeconds_MidLoad_NoLossNoDuplicates()
    {
        const int clients = 8, eventsPerClient = 2_000;
        using var cluster = EmbeddedKafkaCluster.Start(brokerCount: 1);
        await using var gateway = await TestGateway.StartAsync(cluster: cluster);
        var readyz = HttpStatusCode.OK;

        // The fault: five seconds without the broker while the clients keep sending.
        await FaultyLoad.RunAsync(gateway.WebSocketUri, clients, eventsPerClient, async () => readyz = await FaultyLoad.BrokerOutageAsync(cluster, gateway, TimeSpan.FromSeconds(5)));

        Assert.Equal(HttpStatusCode.ServiceUnavailable, readyz);
        var records = TopicReader.ReadAll(cluster.BootstrapServers, gateway.Topic, clients * eventsPerClient);
        Assert.Equal(clients * eventsPerClient, records.Select(r => r.Text).Distinct().Count());
        Assert.Equal(clients * eventsPerClient, records.Count);
    }

    [Fact]
    public async Task KafkaUnreachable_HandshakesSucceed_ReadyzIs503_EventsGetDeliveryFailed()
    {
        // A port with nothing listening: Kafka is unreachable from the start.
        using var listener = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var deadPort = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        await using var gateway = await TestGateway.StartAsync(
            new Dictionary<string, string?> { ["Ingest:Kafka:DeliveryTimeoutMs"] = "2000" },
            bootstrapServers: $"127.0.0.1:{deadPort}");

        var readyz = await gateway.Http.GetAsync(new Uri("/readyz", UriKind.Relative), TestContext.Current.CancellationToken);
        await using var client = await TestClient.ConnectAsync(gateway.WebSocketUri);
        await client.SendAsync(Event("c", 1));
        var error = await client.WaitForErrorAsync(1);
        await client.WaitForAckAsync(1);

        Assert.Equal(HttpStatusCode.ServiceUnavailable, readyz!.StatusCode);
        using var body = JsonDocument.Parse(await readyz.Content.ReadAsStringAsync(TestContext.Current.CancellationToken));
        Assert.Equal("kafka_unreachable", body.RootElement.GetProperty("status").GetString());
        Assert.False(string.IsNullOrEmpty(body.RootElement.GetProperty("reason").GetString()));
        Assert.Equal(ErrorCodes.DeliveryFailed, error.Code);
        Assert.Equal(HttpStatusCode.OK, (await gateway.Http.GetAsync(new Uri("/healthz", UriKind.Relative), TestContext.Current.CancellationToken)).StatusCode);
    }

    [Fact]
    public async Task Readyz_IsOk_WhenKafkaAnswers()
    {
        await using var gateway = await TestGateway.StartAsync();
        using var timer = new PeriodicTimer(TimeSpan.FromMilliseconds(50));
        HttpResponseMessage response;
        var deadline = DateTime.UtcNow.AddSeconds(30);
        // The first health check runs right after start; wait for its answer.
        while ((response = await gateway.Http.GetAsync(new Uri("/readyz", UriKind.Relative), TestContext.Current.CancellationToken)).StatusCode != HttpStatusCode.OK
            && DateTime.UtcNow < deadline)
        {
            await timer.WaitForNextTickAsync(TestContext.Current.CancellationToken);
        }

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Contains("ready", await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken), StringComparison.Ordinal);
    }

    [Fact]
    public async Task ShutdownUnderLoad_DrainingFrame_FinalAck_Close1001_AndEveryReadEventIsInKafka()
    {
        const int clients = 10;
        using var cluster = EmbeddedKafkaCluster.Start(brokerCount: 1);
        var gateway = await TestGateway.StartAsync(new Dictionary<string, string?> { ["Ingest:Shutdown:ReconnectWindowMs"] = "3000" }, cluster);
        var connected = new List<TestClient>();
        for (var c = 0; c < clients; c++)
        {
            connected.Add(await TestClient.ConnectAsync(gateway.WebSocketUri));
        }

        using var stopSending = new CancellationTokenSource();
        var load = SendingLoad.Start(connected, (c, i) => Event($"c{c}", i), stopSending.Token);

        foreach (var client in connected)
        {
            await client.WaitForAckAsync(50);
        }

        var stopping = gateway.StopAsync();
        foreach (var client in connected)
        {
            await client.WaitForCloseAsync(TimeSpan.FromSeconds(60));
        }

        await stopping;
        await stopSending.CancelAsync();
        await load.Completion;
        var eventsRead = gateway.Metrics.Snapshot(0, 0).EventsReceived;
        await gateway.DisposeAsync();

        var records = TopicReader.ReadAll(cluster.BootstrapServers, gateway.Topic, 1);
        var landed = records.Select(r => r.Text).ToHashSet();
        Assert.Equal(landed.Count, records.Count);
        for (var c = 0; c < clients; c++)
        {
            var client = connected[c];
            var frames = client.Frames;
            var draining = Assert.Single(frames, f => f.Type == ServerFrameType.Draining);
            Assert.InRange(draining.ReconnectAfterMs, 0, 3000);
            Assert.Equal(WebSocketCloseStatus.EndpointUnavailable, client.CloseStatus);
            // The last frame before the close is the final ack, and it covers every message read.
            Assert.Equal(ServerFrameType.Ack, frames[^1].Type);
            var acked = (int)client.AckedUpTo;
            Assert.True(acked > 0);
            Assert.All(load.SentBy(c).Take(acked), e => Assert.Contains(e, landed));
            await client.DisposeAsync();
        }

        // Nothing read is lost: the gateway counted every event it read, and each one landed.
        Assert.Equal(eventsRead, records.Count);
    }
}
