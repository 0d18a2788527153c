using System.ComponentModel.DataAnnotations;

namespace Ingest.Gateway.Configuration;

/// <summary>WebSocket settings (<c>Ingest:WebSocket</c>).</summary>
public sealed class WebSocketOptions
{
    /// <summary>Largest accepted message in bytes, after reassembly of fragments. Defaults to 1048576 (1 MiB).</summary>
    [Range(64, 64 * 1024 * 1024)]
    public int MaxMessageBytes { get; set; } = 1_048_576;

    /// <summary>
    /// Concurrent WebSocket connections; the next handshake gets 503. Defaults to the TCP connection
    /// limit (<c>Ingest:Limits:MaxConnections</c>) less 544: 512 for every other HTTP connection
    /// (handshakes in progress, probes, <c>/stats</c>, <c>/stream</c>) and 32 for sockets still closing.
    /// </summary>
    [Range(1, 10_000_000)]
    public int? MaxConnections { get; set; }

    /// <summary>
    /// How long a message may take from its first frame to its last. Past it the connection is
    /// closed with 1008, so a client cannot hold reassembly memory by never finishing a message.
    /// Defaults to 30000 ms: a 1 MiB message at 35 KB/s.
    /// </summary>
    [Range(1_000, 3_600_000)]
    public int MessageTimeoutMs { get; set; } = 30_000;

    /// <summary>
    /// How long a connection may go without a data message before it is closed with 1000 ("idle").
    /// Defaults to 600000 ms (10 minutes); 0 keeps idle connections open. Clients reconnect when
    /// they have something to send (ingest.js does).
    /// </summary>
    [Range(0, 86_400_000)]
    public int IdleTimeoutMs { get; set; } = 600_000;

    /// <summary>
    /// Messages a connection may have read but not seen acked; past it the gateway stops reading
    /// that connection until acks go out. Defaults to 10000: far above what a client that reads its
    /// acks ever has in flight, so only a client that does not read them is held back.
    /// </summary>
    [Range(1, 1_000_000)]
    public int MaxUnackedMessages { get; set; } = 10_000;

    /// <summary>
    /// Bytes of frames (error frames) queued for a connection and not yet sent; past it the
    /// connection is closed with 1008. Defaults to 65536 (64 KB), some 400 error frames: a client
    /// that reads its frames never comes near it, and 19,000 connections cannot hold more than
    /// 1.2 GB this way.
    /// </summary>
    [Range(4_096, 1_073_741_824)]
    public int MaxOutboundBytes { get; set; } = 65_536;

    /// <summary>
    /// How long one frame may wait for the client to take it; past it the connection is dropped (a
    /// client that reads nothing cannot be sent a close frame either). Defaults to 30000 ms.
    /// </summary>
    [Range(1_000, 3_600_000)]
    public int SendTimeoutMs { get; set; } = 30_000;

    /// <summary>Ping interval, to notice vanished clients. Defaults to 30000 ms.</summary>
    [Range(0, 3_600_000)]
    public int KeepAliveIntervalMs { get; set; } = 30_000;

    /// <summary>How long to wait for the pong before the connection is dropped. Defaults to 30000 ms.</summary>
    [Range(0, 3_600_000)]
    public int KeepAliveTimeoutMs { get; set; } = 30_000;
}
