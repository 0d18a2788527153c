using System.ComponentModel.DataAnnotations;

namespace Ingest.Gateway.Configuration;

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
    /// Bytes of frames that may wait for one subscriber (besides <see cref="QueueCapacity"/>): past
    /// it, its new events are dropped and counted like past the count. One frame is always let in,
    /// whatever its size. Defaults to 262144 (256 KB): at most 256 MiB for 1000 subscribers.
    /// </summary>
    [Range(1_024, 1_073_741_824)]
    public int QueueBytes { get; set; } = 262_144;

    /// <summary>
    /// Interval of the <c>: heartbeat</c> comment. Defaults to 15000 ms, below the 30-60 s idle
    /// timeouts of common proxies and load balancers, so idle streams stay open.
    /// </summary>
    [Range(100, 3_600_000)]
    public int HeartbeatMs { get; set; } = 15_000;

    /// <summary>
    /// Concurrent subscribers; the next one gets 503. Defaults to 256: each holds a plain HTTP
    /// connection, of which the gateway keeps 512 by default beside its WebSockets
    /// (<c>Ingest:Limits</c>), and up to <see cref="QueueBytes"/> of memory.
    /// </summary>
    [Range(1, 1_000_000)]
    public int MaxSubscribers { get; set; } = 256;

    /// <summary>
    /// How long one write (at most 32 KB of frames) may wait for the client to take it before the
    /// connection is dropped and the subscription released. Defaults to 60000 ms: a slow client only
    /// loses events, a stuck or vanished one (its TCP window closed, no FIN ever coming) loses the
    /// stream instead of holding a subscriber slot for good.
    /// </summary>
    [Range(1_000, 3_600_000)]
    public int StallTimeoutMs { get; set; } = 60_000;
}
