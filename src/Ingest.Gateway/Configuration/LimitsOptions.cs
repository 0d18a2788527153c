using System.ComponentModel.DataAnnotations;

namespace Ingest.Gateway.Configuration;

/// <summary>What one process, one address and one connection may hold (<c>Ingest:Limits</c>).</summary>
public sealed class LimitsOptions
{
    /// <summary>
    /// TCP connections Kestrel serves at once (WebSocket or not, finished handshake or not); past
    /// it new connections are closed at once. Defaults to the process's file descriptor limit
    /// (<c>RLIMIT_NOFILE</c>) less <see cref="ReservedDescriptors"/>, so that accepting can never
    /// run the process out of descriptors.
    /// </summary>
    [Range(1, 10_000_000)]
    public int? MaxConnections { get; set; }

    /// <summary>
    /// File descriptors kept for everything but client connections: Kafka sockets, log and
    /// library files, the runtime's threads, pipes and epoll. Defaults to 384: the runtime keeps two
    /// descriptors open for every assembly it loads, and the gateway, its logging and OpenTelemetry
    /// hold about 290 once serving (measured under <c>ulimit -n 1024</c>), which 256 no longer covered.
    /// </summary>
    [Range(64, 1_000_000)]
    public int ReservedDescriptors { get; set; } = 384;

    /// <summary>
    /// How long a TCP connection may take to send its HTTP request (the WebSocket handshake
    /// included), and how long a connection may sit silent between requests. Defaults to 10000 ms
    /// (Kestrel's own defaults, 30 and 130 s, let silent sockets pile up).
    /// </summary>
    [Range(1_000, 600_000)]
    public int HandshakeTimeoutMs { get; set; } = 10_000;

    /// <summary>
    /// Bytes Kestrel reads ahead from one connection before the gateway takes them (its
    /// <c>MaxRequestBufferSize</c>); past it the socket is left unread and TCP holds the client
    /// back. Defaults to 32768 (32 KB): plenty for streaming clients, and a client that sends a
    /// large message slowly cannot park more than this in the process (Kestrel's default, 1 MiB per
    /// connection, let 500 unfinished messages hold 500 MiB).
    /// </summary>
    [Range(4_096, 16_777_216)]
    public int ConnectionBufferBytes { get; set; } = 32_768;

    /// <summary>
    /// WebSocket connections from one client address; the next handshake gets 429. Defaults to
    /// 1000, room for an office behind one NAT address.
    /// </summary>
    [Range(1, 10_000_000)]
    public int MaxConnectionsPerAddress { get; set; } = 1_000;

    /// <summary>
    /// Proxies (IP addresses or CIDR ranges, e.g. <c>10.0.0.0/8</c>) whose <c>X-Forwarded-For</c>
    /// names the client address. Defaults to none: the address is the TCP peer's, and the header
    /// is ignored (a client could name any address in it).
    /// </summary>
    public string[] TrustedProxies { get; set; } = [];

    /// <summary>
    /// Events one connection may send per second, as a token bucket: past it the gateway reads that
    /// connection more slowly (nothing is dropped). Defaults to 10000.
    /// </summary>
    [Range(1, 100_000_000)]
    public int EventsPerSecond { get; set; } = 10_000;

    /// <summary>
    /// The bucket's size: events a connection may send at once above its rate. Defaults to 20000;
    /// at least 1000, a full batch.
    /// </summary>
    [Range(1_000, 100_000_000)]
    public int EventBurst { get; set; } = 20_000;

    /// <summary>
    /// Rejected messages (invalid JSON or events, binary, a foreign clientId) one connection may
    /// send per second, as a token bucket: each costs an error frame and a dead letter. Past it the
    /// connection is closed with 1008, after a final ack. Defaults to 10.
    /// </summary>
    [Range(0.001, 1_000_000)]
    public double InvalidMessagesPerSecond { get; set; } = 10;

    /// <summary>
    /// The bucket's size: rejected messages a connection may send at once. Defaults to 100; 0 turns
    /// the limit off.
    /// </summary>
    [Range(0, 100_000_000)]
    public int InvalidMessageBurst { get; set; } = 100;

    /// <summary>
    /// Rejected messages all connections from one client address may send per second together, as
    /// a token bucket that outlives the connections: past it the connection that sent the rejected
    /// message is closed with 1008, after a final ack, and so is the next one from that address to
    /// send one before the bucket refills. Defaults to 100.
    /// </summary>
    [Range(0.001, 1_000_000)]
    public double InvalidMessagesPerSecondPerAddress { get; set; } = 100;

    /// <summary>
    /// The address's bucket size: rejected messages its connections may send at once. Defaults to
    /// 1000; 0 turns the limit off.
    /// </summary>
    [Range(0, 100_000_000)]
    public int InvalidMessageBurstPerAddress { get; set; } = 1_000;
}
