using Confluent.Kafka;
using Ingest.Gateway.Configuration;
using Ingest.Gateway.Kafka;

namespace Ingest.UnitTests.Kafka;

/// <summary>The <c>/stream</c> consumer reads from the end, never commits, and connects like the producer.</summary>
public sealed class StreamConsumerConfigTests
{
    [Fact]
    public void ForStreamConsumer_ReadsFromTheEnd_CommitsNothing_WithLowLatencyFetches()
    {
        var config = KafkaClientConfigs.ForStreamConsumer(new IngestOptions(), "broker:9092");

        Assert.Equal("broker:9092", config.BootstrapServers);
        Assert.Equal(AutoOffsetReset.Latest, config.AutoOffsetReset);
        Assert.False(config.EnableAutoCommit);
        Assert.False(config.EnableAutoOffsetStore);
        Assert.Equal(10, config.FetchWaitMaxMs);
        Assert.StartsWith("ingest-stream-", config.GroupId, StringComparison.Ordinal);
        Assert.NotEqual(config.GroupId, KafkaClientConfigs.ForStreamConsumer(new IngestOptions(), "broker:9092").GroupId);
    }

    [Fact]
    public void ForStreamConsumer_TakesTheDeprecatedConnectionPropertiesOfTheProducerSection_AndNothingElse()
    {
        var options = new IngestOptions();
        options.Kafka.Producer["security.protocol"] = "SASL_SSL";
        options.Kafka.Producer["sasl.mechanism"] = "PLAIN";
        options.Kafka.Producer["ssl.ca.location"] = "/etc/ca.pem";
        options.Kafka.Producer["linger.ms"] = "50";

        var config = KafkaClientConfigs.ForStreamConsumer(options, "broker:9092");

        Assert.Equal("SASL_SSL", config.Get("security.protocol"));
        Assert.Equal("PLAIN", config.Get("sasl.mechanism"));
        Assert.Equal("/etc/ca.pem", config.Get("ssl.ca.location"));
        Assert.Null(config.Get("linger.ms"));
    }
}
