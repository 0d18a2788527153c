using Ingest.IntegrationTests.Reliability;
using Ingest.Kafka.Embedded;
using Ingest.Testing;

namespace Ingest.IntegrationTests.WebSockets;

/// <summary>
/// The gateway as <c>deploy/gateway.env</c> starts it: with
/// <c>DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS=1</c> the runtime completes socket operations on
/// its socket threads and Kestrel runs the connections' code there as well. The other tests run the
/// gateway in the test process, which keeps the thread pool (the tests' own code blocks threads);
/// this one runs a load through a gateway process started that way.
/// </summary>
public sealed class InlineSocketCompletionsTests
{
    private const string Variable = "DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS";

    [Fact]
    public async Task GatewayOnTheSocketThreads_SaysSo_AndALoadIsAckedAndLandsExactlyOnce()
    {
        const int clients = 16, eventsPerClient = 1_000;
        using var cluster = EmbeddedKafkaCluster.Start(brokerCount: 1);
        cluster.CreateTopic("events", partitions: 4);
        cluster.CreateTopic("events.dlq", partitions: 1);
        var settings = new Dictionary<string, string> { ["Ingest:Kafka:BootstrapServers"] = cluster.BootstrapServers };

        await using var gateway = GatewayProcessHost.Start(settings, environment: new Dictionary<string, string> { [Variable] = "1" });
        await gateway.WaitUntilReadyAsync();
        Assert.Contains(gateway.Output, line => line.Contains("\"Threads\":\"the socket threads\"", StringComparison.Ordinal));

        await FaultyLoad.RunAsync(gateway.WebSocketUri, clients, eventsPerClient, () => Task.CompletedTask);

        var records = TopicReader.ReadAll(cluster.BootstrapServers, "events", clients * eventsPerClient);
        Assert.Equal(clients * eventsPerClient, records.Select(r => r.Text).Distinct().Count());
        Assert.Equal(clients * eventsPerClient, records.Count);
        Assert.All(records, r => Assert.Equal(r.Key, System.Text.Json.JsonDocument.Parse(r.Value).RootElement.GetProperty("clientId").GetString()));
    }

    [Fact]
    public async Task WithoutTheVariable_TheGatewaySaysItUsesTheThreadPool()
    {
        using var cluster = EmbeddedKafkaCluster.Start(brokerCount: 1);
        var settings = new Dictionary<string, string> { ["Ingest:Kafka:BootstrapServers"] = cluster.BootstrapServers };

        await using var gateway = GatewayProcessHost.Start(settings, environment: new Dictionary<string, string> { [Variable] = "0" });
        await gateway.WaitUntilReadyAsync();

        Assert.Contains(gateway.Output, line => line.Contains("\"Threads\":\"the thread pool\"", StringComparison.Ordinal));
    }
}
