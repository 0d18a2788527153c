using Ingest.Gateway;
using Ingest.Gateway.Diagnostics;
using Ingest.Gateway.Pipeline;
using Ingest.Kafka.Embedded;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace Ingest.Testing;

/// <summary>
/// A real gateway on Kestrel (127.0.0.1, random port) producing over TCP to an embedded Kafka
/// cluster owned by the test, with topics of its own.
/// </summary>
internal sealed class TestGateway : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly bool _ownsCluster;
    private bool _stopped;

    private TestGateway(WebApplication app, EmbeddedKafkaCluster cluster, bool ownsCluster, string topic, string deadLetterTopic)
    {
        _app = app;
        Kafka = cluster;
        _ownsCluster = ownsCluster;
        Topic = topic;
        DeadLetterTopic = deadLetterTopic;
        var address = new Uri(app.Urls.First());
        HttpUri = address;
        WebSocketUri = new UriBuilder(address) { Scheme = address.Scheme == Uri.UriSchemeHttps ? "wss" : "ws", Path = "/ws" }.Uri;
        Http = new HttpClient { BaseAddress = address, Timeout = TimeSpan.FromSeconds(30) };
    }

    public EmbeddedKafkaCluster Kafka { get; }

    public string Topic { get; }

    public string DeadLetterTopic { get; }

    public Uri HttpUri { get; }

    public Uri WebSocketUri { get; }

    public HttpClient Http { get; }

    public IngestMetrics Metrics => _app.Services.GetRequiredService<IngestMetrics>();

    public EventChannel Channel => _app.Services.GetRequiredService<EventChannel>();

    /// <summary>
    /// Starts a gateway. <paramref name="settings"/> are gateway configuration keys
    /// (e.g. <c>Ingest:WebSocket:MaxMessageBytes</c>); <paramref name="cluster"/> defaults to a new
    /// one-broker cluster that the gateway disposes. A restarted gateway passes the
    /// <paramref name="port"/> and <paramref name="topic"/> of the one it replaces (the topic and its
    /// dead-letter topic are then not created again); 0 and null mean a random port and new topics.
    /// </summary>
    public static async Task<TestGateway> StartAsync(
        IDictionary<string, string?>? settings = null,
        EmbeddedKafkaCluster? cluster = null,
        int partitions = 4,
        string? bootstrapServers = null,
        int port = 0,
        string? topic = null)
    {
        var ownsCluster = cluster is null;
        cluster ??= EmbeddedKafkaCluster.Start(brokerCount: 1);
        var deadLetterTopic = $"{topic}.dlq";
        if (topic is null)
        {
            topic = $"events-{Guid.NewGuid().ToString("N")[..8]}";
            deadLetterTopic = $"{topic}.dlq";
            cluster.CreateTopic(topic, partitions);
            cluster.CreateTopic(deadLetterTopic, partitions);
        }

        var configuration = new Dictionary<string, string?>
        {
            ["Ingest:Kafka:BootstrapServers"] = bootstrapServers ?? cluster.BootstrapServers,
            ["Ingest:Kafka:Topic"] = topic,
            ["Ingest:Kafka:DeadLetterTopic"] = deadLetterTopic,
            ["Ingest:Kafka:HealthCheckIntervalMs"] = "200",
            ["Ingest:Shutdown:TimeoutMs"] = "20000",
            ["Serilog:MinimumLevel:Default"] = "Warning",
            ["Serilog:MinimumLevel:Override:Ingest.Gateway.Kafka.KafkaBatchProducer"] = "Error",
        };
        foreach (var (key, value) in settings ?? new Dictionary<string, string?>())
        {
            configuration[key] = value;
        }

        var app = GatewayApp.Build(["--urls", $"http://127.0.0.1:{port}"], builder => builder.Configuration.AddInMemoryCollection(configuration));
        await app.StartAsync(TestContext.Current.CancellationToken);
        return new TestGateway(app, cluster, ownsCluster, topic, deadLetterTopic);
    }

    public T GetService<T>()
        where T : notnull => _app.Services.GetRequiredService<T>();

    /// <summary>Graceful shutdown, as on SIGTERM.</summary>
    public async Task StopAsync()
    {
        if (!_stopped)
        {
            _stopped = true;
            await _app.StopAsync(CancellationToken.None);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        await _app.DisposeAsync();
        Http.Dispose();
        if (_ownsCluster)
        {
            Kafka.Dispose();
        }
    }
}
