using System.Net;
using Ingest.Contracts;
using Ingest.Gateway;
using Ingest.Kafka.Discovery;
using Ingest.Testing;
using Microsoft.Extensions.Configuration;

namespace Ingest.IntegrationTests.Hosting;

/// <summary>With no bootstrap servers the gateway hosts the embedded broker and publishes it.</summary>
public sealed class EmbeddedKafkaModeTests
{
    [Fact]
    public async Task NoBootstrapServers_StartsEmbeddedKafka_PublishesItAndTheGateway_AndEventsLand()
    {
        var file = Path.Combine(Path.GetTempPath(), $"ingest-dev-{Guid.NewGuid():N}.json");
        var app = GatewayApp.Build(["--urls", "http://127.0.0.1:0"], builder => builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Ingest:Kafka:BootstrapServers"] = "",
            ["Ingest:Kafka:Embedded:Brokers"] = "1",
            ["Ingest:Kafka:Embedded:Partitions"] = "2",
            ["Ingest:Kafka:Embedded:DiscoveryFile"] = file,
            ["Serilog:MinimumLevel:Default"] = "Warning",
        }));
        await app.StartAsync(TestContext.Current.CancellationToken);
        try
        {
            var published = DevEnvironmentFile.TryRead(file);
            Assert.NotNull(published);
            Assert.Equal("events", published.Topic);
            Assert.Equal("events.dlq", published.DeadLetterTopic);
            Assert.Equal(app.Urls.First(), Assert.Single(published.GatewayUrls));
            Assert.StartsWith("127.0.0.1:", published.BootstrapServers, StringComparison.Ordinal);

            var ws = new UriBuilder(app.Urls.First()) { Scheme = "ws", Path = "/ws" }.Uri;
            await using (var client = await TestClient.ConnectAsync(ws))
            {
                await client.SendAndWaitAckAsync("{\"msg\":\"embedded\",\"clientId\":\"dev\",\"timestamp\":1}");
            }

            var record = Assert.Single(TopicReader.ReadAll(published.BootstrapServers, "events", 1));
            Assert.Equal("dev", record.Key);
        }
        finally
        {
            await app.StopAsync(CancellationToken.None);
            await app.DisposeAsync();
        }

        Assert.False(File.Exists(file), "the gateway removes its discovery file on shutdown");
    }

    [Fact]
    public async Task TestPage_IsServedAtRoot_WithTheClientScriptAndItsApp()
    {
        await using var gateway = await TestGateway.StartAsync();

        var response = await gateway.Http.GetAsync(new Uri("/", UriKind.Relative), TestContext.Current.CancellationToken);
        var html = await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken);
        var app = await gateway.Http.GetAsync(new Uri("/app.js", UriKind.Relative), TestContext.Current.CancellationToken);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/html", response.Content.Headers.ContentType?.MediaType);
        Assert.Contains("<script src=\"ingest.js\"></script>", html, StringComparison.Ordinal);
        Assert.Contains("<script src=\"app.js\"></script>", html, StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.OK, app.StatusCode);
        Assert.Contains("new Ingest.Client(", await app.Content.ReadAsStringAsync(TestContext.Current.CancellationToken), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Stats_ReportsConnectionsAndCounts()
    {
        await using var gateway = await TestGateway.StartAsync();
        await using var client = await TestClient.ConnectAsync(gateway.WebSocketUri);
        await client.SendAndWaitAckAsync("[{\"msg\":\"a\",\"clientId\":\"s\",\"timestamp\":1},{\"msg\":\"b\",\"clientId\":\"s\",\"timestamp\":2}]");
        await client.SendAsync("not json");
        await client.WaitForErrorAsync(2);

        var stats = GatewayStats.Parse(await gateway.Http.GetStringAsync(new Uri("/stats", UriKind.Relative), TestContext.Current.CancellationToken));

        Assert.Equal(1, stats.ConnectionsActive);
        Assert.Equal(2, stats.MessagesReceived);
        Assert.Equal(1, stats.MessagesRejected);
        Assert.Equal(2, stats.EventsDelivered);
    }
}
