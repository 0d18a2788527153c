using Confluent.Kafka;
using Ingest.Gateway.Configuration;
using Ingest.Gateway.Kafka;

namespace Ingest.UnitTests.Kafka;

/// <summary>One client configuration: <c>Ingest:Kafka:Client:*</c> reaches the producer, the <c>/stream</c> consumer and the health check alike.</summary>
public sealed class KafkaClientConfigsTests
{
    private const string Bootstrap = "broker-1:9093";
    private static readonly TimeSpan HealthTimeout = TimeSpan.FromSeconds(5);

    public static TheoryData<string> Clients => ["producer", "stream consumer", "health check"];

    [Theory]
    [MemberData(nameof(Clients))]
    public void ClientSection_SecurityAndSasl_ReachEveryClient(string client)
    {
        var options = new IngestOptions();
        options.Kafka.Client["security.protocol"] = "SASL_SSL";
        options.Kafka.Client["sasl.mechanism"] = "SCRAM-SHA-512";
        options.Kafka.Client["sasl.username"] = "ingest";
        options.Kafka.Client["sasl.password"] = "s3cret";
        options.Kafka.Client["ssl.ca.location"] = "/etc/kafka/ca.pem";

        var config = Build(client, options);

        Assert.Equal(Bootstrap, config.Get("bootstrap.servers"));
        Assert.Equal("SASL_SSL", config.Get("security.protocol"));
        Assert.Equal("SCRAM-SHA-512", config.Get("sasl.mechanism"));
        Assert.Equal("ingest", config.Get("sasl.username"));
        Assert.Equal("s3cret", config.Get("sasl.password"));
        Assert.Equal("/etc/kafka/ca.pem", config.Get("ssl.ca.location"));
    }

    [Theory]
    [MemberData(nameof(Clients))]
    public void ProducerSection_DeprecatedConnectionProperty_StillReachesEveryClient_ClientSectionWins(string client)
    {
        var options = new IngestOptions();
        options.Kafka.Producer["security.protocol"] = "SSL";
        options.Kafka.Producer["ssl.ca.location"] = "/old/ca.pem";
        options.Kafka.Client["ssl.ca.location"] = "/new/ca.pem";

        var config = Build(client, options);

        Assert.Equal("SSL", config.Get("security.protocol"));
        Assert.Equal("/new/ca.pem", config.Get("ssl.ca.location"));
    }

    [Fact]
    public void ProducerAndConsumerSections_ReachOnlyTheirOwnClient()
    {
        var options = new IngestOptions();
        options.Kafka.Producer["queue.buffering.max.messages"] = "50000";
        options.Kafka.Consumer["fetch.max.bytes"] = "1048576";

        var producer = KafkaClientConfigs.ForProducer(options, Bootstrap);
        var consumer = KafkaClientConfigs.ForStreamConsumer(options, Bootstrap);
        var health = KafkaClientConfigs.ForHealthCheck(options, Bootstrap, HealthTimeout);

        Assert.Equal("50000", producer.Get("queue.buffering.max.messages"));
        Assert.Null(consumer.Get("queue.buffering.max.messages"));
        Assert.Null(health.Get("queue.buffering.max.messages"));
        Assert.Equal("1048576", consumer.Get("fetch.max.bytes"));
        Assert.Null(producer.Get("fetch.max.bytes"));
    }

    [Fact]
    public void DeprecatedKeys_NameEachConnectionPropertyOfTheProducerSectionWithItsNewKey()
    {
        var options = new IngestOptions();
        options.Kafka.Producer["sasl.password"] = "x";
        options.Kafka.Producer["linger.ms"] = "5";

        var deprecated = Assert.Single(KafkaClientConfigs.DeprecatedKeys(options.Kafka));

        Assert.Equal(("Ingest:Kafka:Producer:sasl.password", "Ingest:Kafka:Client:sasl.password"), deprecated);
    }

    [Theory]
    [MemberData(nameof(Clients))]
    public void EveryClient_HasItsOwnClientId(string client)
    {
        var expected = client switch
        {
            "producer" => "ingest-gateway",
            "stream consumer" => "ingest-gateway-stream",
            _ => "ingest-gateway-health",
        };

        Assert.Equal(expected, Build(client, new IngestOptions()).Get("client.id"));
    }

    private static ClientConfig Build(string client, IngestOptions options) => client switch
    {
        "producer" => KafkaClientConfigs.ForProducer(options, Bootstrap),
        "stream consumer" => KafkaClientConfigs.ForStreamConsumer(options, Bootstrap),
        "health check" => KafkaClientConfigs.ForHealthCheck(options, Bootstrap, HealthTimeout),
        _ => throw new ArgumentOutOfRangeException(nameof(client)),
    };
}
