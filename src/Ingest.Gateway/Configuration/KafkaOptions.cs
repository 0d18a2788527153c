using System.ComponentModel.DataAnnotations;
using Ingest.Kafka.Embedded;

namespace Ingest.Gateway.Configuration;

/// <summary>How the producer writes to Kafka (<c>Ingest:Kafka:Delivery</c>).</summary>
public enum KafkaDelivery
{
    /// <summary>
    /// An idempotent producer (<c>acks=all</c>); a message is acked once Kafka has each of its
    /// records. Retries never duplicate a record on Apache Kafka.
    /// </summary>
    Idempotent,

    /// <summary>
    /// A transactional producer: each pass of the producer (up to 1,024 messages) is one Kafka
    /// transaction, acked once it commits; a message's events are committed all or none.
    /// </summary>
    Transactional,
}

/// <summary>Kafka settings (<c>Ingest:Kafka</c>).</summary>
public sealed class KafkaOptions
{
    /// <summary>Bootstrap servers. Defaults to empty, which starts the embedded development broker.</summary>
    public string? BootstrapServers { get; set; }

    /// <summary>Topic for valid events. Defaults to <c>events</c>.</summary>
    [Required(AllowEmptyStrings = false)]
    [RegularExpression("^[a-zA-Z0-9._-]{1,249}$", ErrorMessage = "The field {0} must be a Kafka topic name (letters, digits, '.', '_', '-', at most 249)")]
    public string Topic { get; set; } = "events";

    /// <summary>Topic for rejected input. Defaults to <c>events.dlq</c>; empty turns dead-lettering off.</summary>
    [RegularExpression("^[a-zA-Z0-9._-]{0,249}$", ErrorMessage = "The field {0} must be empty or a Kafka topic name")]
    public string? DeadLetterTopic { get; set; } = "events.dlq";

    /// <summary>
    /// <c>linger.ms</c>. Defaults to 5: batches of a few thousand events at load for little latency
    /// (measured on the embedded broker: 0 gave ~25 events a batch, 5 gave 1-2K).
    /// </summary>
    [Range(0, 900_000)]
    public int LingerMs { get; set; } = 5;

    /// <summary>
    /// <c>Idempotent</c> (the default) or <c>Transactional</c>: each producer batch one Kafka
    /// transaction, acks after its commit (docs/protocol.md, "Guarantees").
    /// </summary>
    public KafkaDelivery Delivery { get; set; } = KafkaDelivery.Idempotent;

    /// <summary>
    /// The producer's <c>transactional.id</c> with <see cref="KafkaDelivery.Transactional"/>.
    /// Defaults to <c>ingest-gateway-</c> and the host name: stable across restarts of the same
    /// instance (a StatefulSet pod, a VM), so that the new process fences the old one and aborts its
    /// open transaction. Two gateways running at once must not share it: the later one fences the
    /// earlier, which stops.
    /// </summary>
    [RegularExpression("^[a-zA-Z0-9._-]{1,249}$", ErrorMessage = "The field {0} must be 1 to 249 letters, digits, '.', '_' or '-'")]
    public string? TransactionalId { get; set; }

    /// <summary>
    /// With <see cref="KafkaDelivery.Transactional"/>: how long start-up waits for the transaction
    /// coordinator (<c>InitTransactions</c>) before the gateway gives up and exits. Defaults to 30000.
    /// </summary>
    [Range(1_000, 600_000)]
    public int TransactionInitTimeoutMs { get; set; } = 30_000;

    /// <summary><c>batch.size</c> in bytes. Defaults to 1 MiB, librdkafka's default.</summary>
    [Range(1, 2_147_483_647)]
    public int BatchSizeBytes { get; set; } = 1_048_576;

    /// <summary><c>compression.type</c>: none, gzip, snappy, lz4 or zstd. Defaults to lz4: cheap on CPU, and it keeps the embedded broker under its 5 MiB-per-partition retention.</summary>
    [RegularExpression("^(none|gzip|snappy|lz4|zstd)$", ErrorMessage = "The field {0} must be one of none, gzip, snappy, lz4, zstd")]
    public string Compression { get; set; } = "lz4";

    /// <summary>
    /// <c>delivery.timeout.ms</c>: how long the producer retries before a message is answered with
    /// <c>delivery_failed</c>. Defaults to 120000 (2 minutes), long enough to ride out a broker
    /// restart, short enough that clients hear back.
    /// </summary>
    [Range(1_000, 2_147_483_647)]
    public int DeliveryTimeoutMs { get; set; } = 120_000;

    /// <summary><c>queue.buffering.max.kbytes</c>: librdkafka's own queue. Defaults to 65536 (64 MiB); past it, the channel fills and sockets stop being read.</summary>
    [Range(1, 2_147_483_647)]
    public int QueueBufferingMaxKbytes { get; set; } = 65_536;

    /// <summary>
    /// librdkafka properties for every Kafka client of the gateway (the producer, the <c>/stream</c>
    /// consumer and the health check): how to reach and trust the cluster, e.g.
    /// <c>security.protocol</c>, <c>sasl.mechanism</c>, <c>sasl.username</c>, <c>sasl.password</c>,
    /// <c>ssl.ca.location</c>. Defaults to empty (plaintext). The brokers are
    /// <see cref="BootstrapServers"/>, not a property here.
    /// </summary>
    public Dictionary<string, string> Client { get; set; } = [];

    /// <summary>
    /// Extra librdkafka properties for the producer only (e.g. <c>queue.buffering.max.messages</c>).
    /// Idempotence and <c>acks</c> cannot be weakened here. Connection properties set here (the
    /// layout before <see cref="Client"/> existed) still work for one version, with a startup
    /// warning naming their new key, and now reach every client.
    /// </summary>
    public Dictionary<string, string> Producer { get; set; } = [];

    /// <summary>Extra librdkafka properties for the <c>/stream</c> consumer only (e.g. <c>fetch.max.bytes</c>).</summary>
    public Dictionary<string, string> Consumer { get; set; } = [];

    /// <summary>The embedded broker, used when <see cref="BootstrapServers"/> is empty.</summary>
    public EmbeddedKafkaOptions Embedded { get; set; } = new();

    /// <summary>How often the gateway checks that Kafka answers, for <c>/readyz</c>. Defaults to 2000 ms.</summary>
    [Range(100, 600_000)]
    public int HealthCheckIntervalMs { get; set; } = 2_000;

    /// <summary>
    /// The producer's <c>statistics.interval.ms</c>: how often librdkafka reports its statistics,
    /// which become the <c>ingest.kafka.*</c> gauges (broker round trips, queues, errors). Defaults
    /// to 5000 ms, finer than a usual scrape interval for one small JSON document each time; 0 turns
    /// them off.
    /// </summary>
    [Range(0, 86_400_000)]
    public int StatisticsIntervalMs { get; set; } = 5_000;

    /// <summary>
    /// How each event record says where it came from (docs/protocol.md, "What lands in Kafka"):
    /// one <c>ingest-source</c> header by default, the three separate headers, or none. Every
    /// header costs librdkafka allocations per record (docs/benchmarks.md). Dead letters always
    /// carry theirs.
    /// </summary>
    public SourceHeaders SourceHeaders { get; set; } = SourceHeaders.Compact;
}

/// <summary>The values of <c>Ingest:Kafka:SourceHeaders</c>. In every one, an event record's timestamp is when the gateway read it.</summary>
public enum SourceHeaders
{
    /// <summary>One <c>ingest-source</c> header: <c>&lt;connection id&gt; &lt;instance id&gt;</c>.</summary>
    Compact,

    /// <summary>The <c>ingest-received-at</c>, <c>ingest-connection</c> and <c>ingest-gateway</c> headers, as dead letters carry them.</summary>
    Separate,

    /// <summary>No source header: key and value (and <c>traceparent</c> while tracing).</summary>
    None,
}
