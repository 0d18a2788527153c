using Confluent.Kafka;
using Ingest.Gateway.Configuration;
using Ingest.Gateway.Kafka;

namespace Ingest.UnitTests.Kafka;

/// <summary>The producer settings behind "Producer: idempotent (enable.idempotence=true, acks=all)".</summary>
public sealed class ProducerConfigTests
{
    private const string Bootstrap = "broker-1:9092,broker-2:9092";

    [Fact]
    public void ForProducer_Defaults_IdempotentAcksAllLz4()
    {
        var config = KafkaClientConfigs.ForProducer(new IngestOptions(), Bootstrap);

        Assert.True(config.EnableIdempotence);
        Assert.Equal(Acks.All, config.Acks);
        Assert.Equal(CompressionType.Lz4, config.CompressionType);
        Assert.Equal(Bootstrap, config.BootstrapServers);
    }

    [Fact]
    public void ForProducer_Defaults_TakesTheTuningFromOptions()
    {
        var options = new IngestOptions();
        options.Kafka.LingerMs = 17;
        options.Kafka.BatchSizeBytes = 65_536;
        options.Kafka.DeliveryTimeoutMs = 30_000;
        options.Kafka.QueueBufferingMaxKbytes = 4_096;
        options.Kafka.Compression = "zstd";

        var config = KafkaClientConfigs.ForProducer(options, Bootstrap);

        Assert.Equal(17, config.LingerMs);
        Assert.Equal(65_536, config.BatchSize);
        Assert.Equal(30_000, config.MessageTimeoutMs);
        Assert.Equal(4_096, config.QueueBufferingMaxKbytes);
        Assert.Equal(CompressionType.Zstd, config.CompressionType);
    }

    [Theory]
    [InlineData(null, null, 1_000)]
    [InlineData("Producer", "250", 250)]
    [InlineData("Client", "30000", 30_000)]
    public void ForProducer_ReconnectBackoffMax_OneSecondUnlessConfigured(string? section, string? configured, int expected)
    {
        var options = new IngestOptions();
        if (section == "Producer")
        {
            options.Kafka.Producer["reconnect.backoff.max.ms"] = configured!;
        }
        else if (section == "Client")
        {
            options.Kafka.Client["reconnect.backoff.max.ms"] = configured!;
        }

        Assert.Equal(expected, KafkaClientConfigs.ForProducer(options, Bootstrap).ReconnectBackoffMaxMs);
    }

    [Theory]
    [InlineData(null, 5_000)]
    [InlineData(250, 250)]
    [InlineData(0, 0)]
    public void ForProducer_StatisticsInterval_FollowsTheOption_ZeroIsOff(int? configured, int expected)
    {
        var options = new IngestOptions();
        if (configured is { } interval)
        {
            options.Kafka.StatisticsIntervalMs = interval;
        }

        Assert.Equal(expected, KafkaClientConfigs.ForProducer(options, Bootstrap).StatisticsIntervalMs);
    }

    [Theory]
    [InlineData("none", CompressionType.None)]
    [InlineData("gzip", CompressionType.Gzip)]
    [InlineData("snappy", CompressionType.Snappy)]
    [InlineData("lz4", CompressionType.Lz4)]
    [InlineData("zstd", CompressionType.Zstd)]
    public void ForProducer_EveryValidCompression_Mapped(string compression, CompressionType expected)
    {
        var options = new IngestOptions();
        options.Kafka.Compression = compression;

        Assert.Equal(expected, KafkaClientConfigs.ForProducer(options, Bootstrap).CompressionType);
    }

    [Theory]
    [InlineData(64)]
    [InlineData(1_048_576)]
    [InlineData(5_000_000)]
    [InlineData(64 * 1024 * 1024)]
    public void ForProducer_AnyMaxMessageBytes_MessageMaxBytesLeavesRoomForKeyAndHeaders(int maxMessageBytes)
    {
        var options = new IngestOptions();
        options.WebSocket.MaxMessageBytes = maxMessageBytes;

        var config = KafkaClientConfigs.ForProducer(options, Bootstrap);

        // A message of exactly the limit must land: value plus a key of up to 256 four-byte
        // characters, three headers and the record overhead.
        Assert.NotNull(config.MessageMaxBytes);
        Assert.True(config.MessageMaxBytes >= maxMessageBytes + 4 * 1024, $"message.max.bytes {config.MessageMaxBytes} for {maxMessageBytes}-byte messages");
    }

    public static TheoryData<string, string> WeakeningSettings => new()
    {
        { "acks", "0" },
        { "acks", "1" },
        { "acks", "leader" },
        { "enable.idempotence", "false" },
    };

    [Theory]
    [MemberData(nameof(WeakeningSettings))]
    public void ForProducer_ProducerDictionaryTriesToWeakenTheGuarantees_StillIdempotentAcksAll(string property, string value)
    {
        var options = new IngestOptions();
        options.Kafka.Producer[property] = value;

        var config = KafkaClientConfigs.ForProducer(options, Bootstrap);

        Assert.True(config.EnableIdempotence);
        Assert.Equal(Acks.All, config.Acks);
        Assert.Equal("true", config.Get("enable.idempotence"), ignoreCase: true);
        Assert.Contains(config.Get("acks"), new[] { "all", "-1" });
    }

    [Fact]
    public void ForProducer_ProducerDictionaryWeakensEverythingAtOnce_StillIdempotentAcksAll()
    {
        var options = new IngestOptions();
        options.Kafka.Producer["acks"] = "0";
        options.Kafka.Producer["enable.idempotence"] = "false";
        options.Kafka.Producer["message.max.bytes"] = "1000";

        var config = KafkaClientConfigs.ForProducer(options, Bootstrap);

        Assert.True(config.EnableIdempotence);
        Assert.Equal(Acks.All, config.Acks);
        Assert.True(config.MessageMaxBytes >= options.WebSocket.MaxMessageBytes);
    }

    [Fact]
    public void ForProducer_ProducerDictionary_OtherPropertiesPassThrough()
    {
        var options = new IngestOptions();
        options.Kafka.Producer["security.protocol"] = "SASL_SSL";
        options.Kafka.Producer["sasl.mechanism"] = "PLAIN";

        var config = KafkaClientConfigs.ForProducer(options, Bootstrap);

        Assert.Equal("SASL_SSL", config.Get("security.protocol"));
        Assert.Equal("PLAIN", config.Get("sasl.mechanism"));
    }

    [Fact]
    public void ForProducer_DoesNotModifyTheOptionsDictionary()
    {
        var options = new IngestOptions();
        options.Kafka.Producer["acks"] = "0";

        KafkaClientConfigs.ForProducer(options, Bootstrap);

        Assert.Equal("0", options.Kafka.Producer["acks"]);
        Assert.Single(options.Kafka.Producer);
    }

    [Theory]
    [InlineData("acks=1")]
    [InlineData("acks=0")]
    [InlineData("enable.idempotence=false")]
    // librdkafka's own name for acks (librdkafka's CONFIGURATION.md: "acks: Alias for request.required.acks").
    [InlineData("request.required.acks=1")]
    [InlineData("request.required.acks=0")]
    [InlineData("acks=1;request.required.acks=1")]
    [InlineData("acks=all;request.required.acks=0;enable.idempotence=false")]
    public void ForProducer_ProducerDictionaryTriesToWeakenTheGuarantees_LibrdkafkaBuildsAnIdempotentProducer(string settings)
    {
        // librdkafka refuses enable.idempotence=true with acks other than all ("`acks` must be set
        // to `all` when `enable.idempotence` is true"), so a producer that builds proves the
        // effective settings, whatever order the properties are applied in.
        var options = new IngestOptions();
        foreach (var setting in settings.Split(';'))
        {
            var parts = setting.Split('=');
            options.Kafka.Producer[parts[0]] = parts[1];
        }

        var config = KafkaClientConfigs.ForProducer(options, "127.0.0.1:1");

        using var producer = new ProducerBuilder<byte[], byte[]>(config).SetLogHandler((_, _) => { }).Build();
        Assert.NotNull(producer.Name);
    }

    [Fact]
    public void ForProducer_Idempotent_IsTheDefault_AndHasNoTransactionalId()
    {
        var options = new IngestOptions();

        var config = KafkaClientConfigs.ForProducer(options, Bootstrap);

        Assert.Equal(KafkaDelivery.Idempotent, options.Kafka.Delivery);
        Assert.Null(config.TransactionalId);
        Assert.Null(config.TransactionTimeoutMs);
    }

    [Fact]
    public void ForProducer_Transactional_DefaultId_IsStableForTheHost_TransactionTimeoutIsTheDeliveryTimeout()
    {
        var options = new IngestOptions();
        options.Kafka.Delivery = KafkaDelivery.Transactional;
        options.Kafka.DeliveryTimeoutMs = 45_000;

        var config = KafkaClientConfigs.ForProducer(options, Bootstrap);

        Assert.Equal($"ingest-gateway-{Environment.MachineName}", config.TransactionalId);
        Assert.Equal(config.TransactionalId, KafkaClientConfigs.ForProducer(options, Bootstrap).TransactionalId);
        // librdkafka refuses message.timeout.ms above transaction.timeout.ms.
        Assert.Equal(45_000, config.TransactionTimeoutMs);
        Assert.Equal(45_000, config.MessageTimeoutMs);
        Assert.True(config.EnableIdempotence);
        Assert.Equal(Acks.All, config.Acks);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData(" ")]
    public void ForProducer_Transactional_NoIdConfigured_UsesTheHostDerivedOne(string? configured)
    {
        var options = new IngestOptions();
        options.Kafka.Delivery = KafkaDelivery.Transactional;
        options.Kafka.TransactionalId = configured;

        Assert.Equal($"ingest-gateway-{Environment.MachineName}", KafkaClientConfigs.ForProducer(options, Bootstrap).TransactionalId);
    }

    [Fact]
    public void ForProducer_Transactional_ConfiguredId_IsUsed()
    {
        var options = new IngestOptions();
        options.Kafka.Delivery = KafkaDelivery.Transactional;
        options.Kafka.TransactionalId = "gateway-7";

        Assert.Equal("gateway-7", KafkaClientConfigs.ForProducer(options, Bootstrap).TransactionalId);
    }

    [Fact]
    public void ForProducer_Transactional_ProducerBuilds_WithTheDeliveryTimeoutBelowLibrdkafkasTransactionDefault()
    {
        // message.timeout.ms (the delivery timeout) above transaction.timeout.ms makes librdkafka refuse the configuration.
        var options = new IngestOptions();
        options.Kafka.Delivery = KafkaDelivery.Transactional;
        options.Kafka.DeliveryTimeoutMs = 120_000;

        using var producer = new ProducerBuilder<byte[], byte[]>(KafkaClientConfigs.ForProducer(options, "127.0.0.1:1")).SetLogHandler((_, _) => { }).Build();

        Assert.NotNull(producer.Name);
    }
}
