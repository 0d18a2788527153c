using Confluent.Kafka;
using Ingest.Gateway.Configuration;
using Ingest.Kafka;
using Microsoft.Extensions.Options;

namespace Ingest.Gateway.Kafka;

/// <summary>
/// The one place the gateway's Kafka client settings are built. Every client (the producer, the
/// <c>/stream</c> consumer, the health check) starts from the same connection settings: the
/// brokers (<c>Ingest:Kafka:BootstrapServers</c> or the embedded broker) and
/// <c>Ingest:Kafka:Client:*</c> (security, SASL, TLS). Then each adds its own section
/// (<c>Producer:*</c>, <c>Consumer:*</c>) and what the gateway fixes for it.
/// </summary>
internal sealed class KafkaClientConfigs(IOptions<IngestOptions> options, KafkaEndpoint endpoint)
{
    public ProducerConfig Producer() => ForProducer(options.Value, endpoint.BootstrapServers);

    public ConsumerConfig StreamConsumer() => ForStreamConsumer(options.Value, endpoint.BootstrapServers);

    public AdminClientConfig HealthCheck(TimeSpan timeout) => ForHealthCheck(options.Value, endpoint.BootstrapServers, timeout);

    /// <summary>The producer: configuration first, then what the wire contract's guarantees require.</summary>
    internal static ProducerConfig ForProducer(IngestOptions options, string bootstrapServers)
    {
        var kafka = options.Kafka;
        var config = new ProducerConfig(Connection(kafka, bootstrapServers, "ingest-gateway"));
        // The guaranteed properties are refused by validation, and left out here too: librdkafka
        // applies properties in order, so request.required.acks copied from configuration would
        // override the acks forced below.
        foreach (var (key, value) in kafka.Producer.Where(p => !KafkaClientProperties.IsConnectionProperty(p.Key) && !KafkaClientProperties.Guaranteed.Contains(p.Key)))
        {
            config.Set(key, value);
        }

        // librdkafka backs off reconnecting to a broker up to 10 s by default, so after an outage
        // acks resumed 4-7.6 s after the brokers did (chaos, 2026-12-02). Apache Kafka's own
        // clients stop at 1 s; so does the gateway, unless configuration says otherwise.
        config.ReconnectBackoffMaxMs ??= 1_000;

        config.LingerMs = kafka.LingerMs;
        config.BatchSize = kafka.BatchSizeBytes;
        config.CompressionType = Enum.Parse<CompressionType>(kafka.Compression, ignoreCase: true);
        config.MessageTimeoutMs = kafka.DeliveryTimeoutMs;
        config.QueueBufferingMaxKbytes = kafka.QueueBufferingMaxKbytes;
        // A message of exactly MaxMessageBytes must fit, with its key and headers.
        config.MessageMaxBytes = Math.Max(1_000_000, options.WebSocket.MaxMessageBytes + 64 * 1024);
        config.SocketNagleDisable = true;
        // Delivery reports carry only the outcome: the gateway needs no copies of keys or values.
        config.DeliveryReportFields = "status";
        // librdkafka's statistics for the ingest.kafka.* gauges (KafkaStatistics); 0 is off.
        config.StatisticsIntervalMs = kafka.StatisticsIntervalMs;

        // The guarantees of the wire contract; configuration cannot weaken them.
        config.EnableIdempotence = true;
        config.Acks = Acks.All;
        if (kafka.Delivery == KafkaDelivery.Transactional)
        {
            config.TransactionalId = TransactionalIdOf(kafka);
            // librdkafka requires message.timeout.ms <= transaction.timeout.ms: a transaction may stay
            // open as long as its records may be retried (broker transaction.max.timeout.ms, 15 min by
            // default, must allow it). socket.timeout.ms follows (100 ms less) unless configured.
            config.TransactionTimeoutMs = kafka.DeliveryTimeoutMs;
        }

        return config;
    }

    /// <summary>
    /// <c>Ingest:Kafka:TransactionalId</c>, or <c>ingest-gateway-</c> and the host name: the same for
    /// every restart of one instance, so that a new process fences the old one.
    /// </summary>
    internal static string TransactionalIdOf(KafkaOptions kafka) =>
        string.IsNullOrWhiteSpace(kafka.TransactionalId) ? $"ingest-gateway-{Environment.MachineName}" : kafka.TransactionalId;

    /// <summary>The <c>/stream</c> consumer: low latency, read from the end, never committing.</summary>
    internal static ConsumerConfig ForStreamConsumer(IngestOptions options, string bootstrapServers)
    {
        var kafka = options.Kafka;
        var config = new ConsumerConfig(Connection(kafka, bootstrapServers, "ingest-gateway-stream"));
        foreach (var (key, value) in KafkaClientDefaults.FastConsumer(bootstrapServers, "unused"))
        {
            config.Set(key, value);
        }

        // At most 16 MiB prefetched (librdkafka's default is 64 MiB): the stream is live, not a backlog.
        config.QueuedMaxMessagesKbytes = 16 * 1024;
        foreach (var (key, value) in kafka.Consumer)
        {
            config.Set(key, value);
        }

        // A group id is required by the client but never joined: partitions are assigned, not subscribed.
        config.GroupId = $"ingest-stream-{Guid.NewGuid():N}";
        config.AutoOffsetReset = AutoOffsetReset.Latest;
        config.EnableAutoCommit = false;
        config.EnableAutoOffsetStore = false;
        return config;
    }

    /// <summary>The readiness check's admin client: a metadata request answered within <paramref name="timeout"/>.</summary>
    internal static AdminClientConfig ForHealthCheck(IngestOptions options, string bootstrapServers, TimeSpan timeout) =>
        new(Connection(options.Kafka, bootstrapServers, "ingest-gateway-health"))
        {
            SocketTimeoutMs = (int)timeout.TotalMilliseconds,
        };

    /// <summary>
    /// Keys of the layout before <c>Ingest:Kafka:Client</c>: connection properties under
    /// <c>Producer</c>. They still apply (to every client) for one version; each is named with its new key.
    /// </summary>
    internal static IEnumerable<(string OldKey, string NewKey)> DeprecatedKeys(KafkaOptions kafka) =>
        kafka.Producer.Keys
            .Where(KafkaClientProperties.IsConnectionProperty)
            .Select(key => ($"Ingest:Kafka:Producer:{key}", $"Ingest:Kafka:Client:{key}"));

    /// <summary>Brokers, client id and the connection properties; <c>Client:*</c> wins over the deprecated <c>Producer:*</c> ones.</summary>
    private static Dictionary<string, string> Connection(KafkaOptions kafka, string bootstrapServers, string clientId)
    {
        var properties = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (key, value) in kafka.Producer.Where(p => KafkaClientProperties.IsConnectionProperty(p.Key)))
        {
            properties[key] = value;
        }

        properties["client.id"] = clientId;
        foreach (var (key, value) in kafka.Client.Where(p => !KafkaClientProperties.Guaranteed.Contains(p.Key)))
        {
            properties[key] = value;
        }

        properties["bootstrap.servers"] = bootstrapServers;
        return properties;
    }
}
