using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.WebSockets;
using Ingest.Contracts;
using Ingest.Kafka.Embedded;
using Ingest.Testing;

namespace Ingest.IntegrationTests.Lifecycle;

/// <summary>
/// SIGTERM with Kafka down (docs/protocol.md, "Guarantees", shutdown): one budget bounds the whole
/// shutdown; clients are told to go, the loss is reported, and the exit code says so.
/// </summary>
public sealed class ShutdownTests
{
    private const int BudgetMs = 6_000;

    [Fact]
    public async Task Sigterm_KafkaDown_DrainsWithinTheBudget_Clients1011_UndeliveredCountLogged_NonZeroExit()
    {
        using var cluster = EmbeddedKafkaCluster.Start(brokerCount: 1);
        cluster.CreateTopic("events", partitions: 2);
        cluster.CreateTopic("events.dlq", partitions: 1);
        await using var gateway = GatewayProcessHost.Start(new Dictionary<string, string>
        {
            ["Ingest:Kafka:BootstrapServers"] = cluster.BootstrapServers,
            ["Ingest:Shutdown:TimeoutMs"] = BudgetMs.ToString(CultureInfo.InvariantCulture),
            ["Ingest:Shutdown:ReconnectWindowMs"] = "1000",
        });
        await gateway.WaitUntilReadyAsync();

        // Three clients, each with 5 events in Kafka (acked), then Kafka goes down and each sends 7 more.
        var clients = new List<TestClient>();
        for (var c = 0; c < 3; c++)
        {
            var client = await TestClient.ConnectAsync(gateway.WebSocketUri);
            clients.Add(client);
            for (var i = 0; i < 5; i++)
            {
                await client.SendAsync(Event(c, i));
            }

            await client.WaitForAckAsync(5);
        }

        cluster.SetBrokerDown(1);
        foreach (var (client, c) in clients.Select((client, c) => (client, c)))
        {
            for (var i = 5; i < 12; i++)
            {
                await client.SendAsync(Event(c, i));
            }
        }

        await Poll.UntilAsync(() => ReadStats(gateway).EventsReceived == 36, "the gateway to read all 36 events");

        var clock = Stopwatch.StartNew();
        gateway.Terminate();

        // While the connections drain, the gateway still answers: 503 for readiness and handshakes
        // (before the signal is handled, /readyz says kafka_unreachable: it is 503 throughout).
        await Poll.UntilAsync(() => ReadinessOf(gateway) == (HttpStatusCode.ServiceUnavailable, "draining"), "/readyz to say draining");

        var refused = await Assert.ThrowsAsync<WebSocketException>(() => TestClient.ConnectAsync(gateway.WebSocketUri));
        Assert.Contains("503", refused.Message, StringComparison.Ordinal);

        foreach (var client in clients)
        {
            await client.WaitForCloseAsync(TimeSpan.FromSeconds(BudgetMs / 1000 + 10));
        }

        Assert.True(await gateway.WaitForExitAsync(TimeSpan.FromMilliseconds(BudgetMs + 10_000)), "the gateway did not exit");
        var elapsed = clock.Elapsed;

        foreach (var client in clients)
        {
            Assert.Equal(5, client.AckedUpTo);
            Assert.Single(client.Frames, f => f.Type == ServerFrameType.Draining);
            Assert.Equal(ServerFrameType.Ack, client.Frames[^1].Type);
            Assert.Equal(WebSocketCloseStatus.InternalServerError, client.CloseStatus);
            await client.DisposeAsync();
        }

        // Within the budget (plus the process's own start of shutdown and exit), not the host's 5 s margin beyond it.
        Assert.InRange(elapsed, TimeSpan.FromMilliseconds(BudgetMs * 0.7), TimeSpan.FromMilliseconds(BudgetMs + 2_500));
        Assert.Equal(1, gateway.ExitCode);
        var log = LogLine.In(gateway.Output);
        var loss = Assert.Single(log, line => line.Message.Contains("were not delivered to Kafka", StringComparison.Ordinal));
        Assert.Equal("Error", loss.Level);
        Assert.Contains("21 events read from clients", loss.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(gateway.Output, line => line.Contains("ObjectDisposedException", StringComparison.Ordinal));
        Assert.DoesNotContain(log, line => line.Level == "Fatal");
    }

    private static string Event(int client, int i) =>
        $"{{\"msg\":\"{i}\",\"clientId\":\"c{client}\",\"timestamp\":{i}}}";

    private static (HttpStatusCode, string?) ReadinessOf(GatewayProcessHost gateway)
    {
        using var response = gateway.Http.GetAsync(new Uri("/readyz", UriKind.Relative)).GetAwaiter().GetResult();
        using var body = System.Text.Json.JsonDocument.Parse(response.Content.ReadAsStringAsync().GetAwaiter().GetResult());
        return (response.StatusCode, body.RootElement.GetProperty("status").GetString());
    }

    private static GatewayStats ReadStats(GatewayProcessHost gateway) =>
        GatewayStats.Parse(gateway.Http.GetStringAsync(new Uri("/stats", UriKind.Relative)).GetAwaiter().GetResult());
}
