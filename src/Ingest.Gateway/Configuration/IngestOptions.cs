using System.ComponentModel.DataAnnotations;
using Microsoft.Extensions.Options;
using Ingest.Kafka.Embedded;

namespace Ingest.Gateway.Configuration;

/// <summary>Gateway settings, bound from the configuration section <c>Ingest</c>.</summary>
public sealed class IngestOptions
{
    /// <summary>The configuration section these options bind to.</summary>
    public const string SectionName = "Ingest";

    /// <summary>Kafka connection, topics and producer tuning.</summary>
    [ValidateObjectMembers]
    public KafkaOptions Kafka { get; set; } = new();

    /// <summary>WebSocket endpoint limits.</summary>
    [ValidateObjectMembers]
    public WebSocketOptions WebSocket { get; set; } = new();

    /// <summary>API keys for the handshake.</summary>
    public AuthOptions Auth { get; set; } = new();

    /// <summary>
    /// <c>Origin</c> values allowed for browser handshakes (e.g. <c>https://app.example.com</c>).
    /// Defaults to empty, which allows any origin. Requests without <c>Origin</c> are not checked.
    /// </summary>
    public string[] AllowedOrigins { get; set; } = [];

    /// <summary>The bounded channel between the connections and the Kafka producer.</summary>
    [ValidateObjectMembers]
    public ChannelOptions Channel { get; set; } = new();

    /// <summary>Graceful shutdown.</summary>
    [ValidateObjectMembers]
    public ShutdownOptions Shutdown { get; set; } = new();

    /// <summary><c>GET /stream</c>: Server-Sent Events of the events read back from Kafka.</summary>
    [ValidateObjectMembers]
    public StreamOptions Stream { get; set; } = new();

    /// <summary>
    /// This gateway instance's id, written to every record's <c>ingest-gateway</c> header.
    /// Defaults to the host name and process id.
    /// </summary>
    public string? InstanceId { get; set; }
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
}

/// <summary>WebSocket settings (<c>Ingest:WebSocket</c>).</summary>
public sealed class WebSocketOptions
{
    /// <summary>Largest accepted message in bytes, after reassembly of fragments. Defaults to 1048576 (1 MiB).</summary>
    [Range(64, 64 * 1024 * 1024)]
    public int MaxMessageBytes { get; set; } = 1_048_576;

    /// <summary>Concurrent connections; the next handshake gets 503. Defaults to 50000.</summary>
    [Range(1, 10_000_000)]
    public int MaxConnections { get; set; } = 50_000;

    /// <summary>Ping interval, to notice vanished clients. Defaults to 30000 ms.</summary>
    [Range(0, 3_600_000)]
    public int KeepAliveIntervalMs { get; set; } = 30_000;

    /// <summary>How long to wait for the pong before the connection is dropped. Defaults to 30000 ms.</summary>
    [Range(0, 3_600_000)]
    public int KeepAliveTimeoutMs { get; set; } = 30_000;
}

/// <summary>Handshake authentication (<c>Ingest:Auth</c>).</summary>
public sealed class AuthOptions
{
    /// <summary>Accepted API keys. Defaults to empty: no authentication.</summary>
    public string[] ApiKeys { get; set; } = [];
}

/// <summary>The ingest channel (<c>Ingest:Channel</c>).</summary>
public sealed class ChannelOptions
{
    /// <summary>
    /// Messages (single events or batches) that may wait for the producer. Defaults to 4096: with
    /// the 1 MiB message limit memory stays bounded, and at typical sizes it rides out a few hundred
    /// milliseconds of Kafka latency without stopping the sockets.
    /// </summary>
    [Range(1, 1_000_000)]
    public int Capacity { get; set; } = 4_096;
}

/// <summary>Graceful shutdown (<c>Ingest:Shutdown</c>).</summary>
public sealed class ShutdownOptions
{
    /// <summary>
    /// The window over which <c>draining</c> frames spread their <c>reconnectAfterMs</c> hints.
    /// Defaults to 5000 ms, so that clients return to other replicas spread out, not all at once.
    /// </summary>
    [Range(0, 600_000)]
    public int ReconnectWindowMs { get; set; } = 5_000;

    /// <summary>
    /// The whole shutdown budget, from the signal to the exit: stop reading, resolve what was read,
    /// final acks, closes and the producer's flush together. The host's own timeout is derived from
    /// it. Defaults to 30000 ms, the host's default.
    /// </summary>
    [Range(1_000, 3_600_000)]
    public int TimeoutMs { get; set; } = 30_000;
}

/// <summary><c>GET /stream</c>, Server-Sent Events of the events topic (<c>Ingest:Stream</c>).</summary>
public sealed class StreamOptions
{
    /// <summary>
    /// Whether <c>/stream</c> is served. Defaults to true. When false the endpoint is not mapped
    /// (404) and the gateway starts no Kafka consumer.
    /// </summary>
    public bool Enabled { get; set; } = true;

    /// <summary>
    /// Events that may wait for one subscriber; past it, that subscriber's new events are dropped
    /// and counted (and it is told). Defaults to 1024: about a second of a busy dashboard's events,
    /// and a few hundred KB per subscriber at typical sizes.
    /// </summary>
    [Range(1, 1_000_000)]
    public int QueueCapacity { get; set; } = 1_024;

    /// <summary>
    /// Interval of the <c>: heartbeat</c> comment. Defaults to 15000 ms, below the 30-60 s idle
    /// timeouts of common proxies and load balancers, so idle streams stay open.
    /// </summary>
    [Range(100, 3_600_000)]
    public int HeartbeatMs { get; set; } = 15_000;

    /// <summary>Concurrent subscribers; the next one gets 503. Defaults to 1000.</summary>
    [Range(1, 1_000_000)]
    public int MaxSubscribers { get; set; } = 1_000;

    /// <summary>
    /// How long one write (at most 32 KB of frames) may wait for the client to take it before the
    /// connection is dropped and the subscription released. Defaults to 60000 ms: a slow client only
    /// loses events, a stuck or vanished one (its TCP window closed, no FIN ever coming) loses the
    /// stream instead of holding a subscriber slot for good.
    /// </summary>
    [Range(1_000, 3_600_000)]
    public int StallTimeoutMs { get; set; } = 60_000;
}
