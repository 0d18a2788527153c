using System.ComponentModel.DataAnnotations;

namespace Ingest.Gateway.Configuration;

/// <summary>
/// The memory the gateway gives its clients' messages (<c>Ingest:Memory</c>), in two budgets so
/// that clients who never finish their messages cannot hold up those who do (docs/operations.md,
/// "Memory budget").
/// </summary>
public sealed class MemoryOptions
{
    /// <summary>
    /// Bytes of messages being reassembled beyond each connection's first 4 KB buffer: what clients
    /// sending large or fragmented messages hold until the message is complete. A connection that
    /// cannot get bytes stops reading until others are given back (or its message times out).
    /// Defaults to 134217728 (128 MiB); at least twice <c>Ingest:WebSocket:MaxMessageBytes</c>.
    /// </summary>
    [Range(1_048_576, 1L << 40)]
    public long MaxReassemblyBytes { get; set; } = 128L * 1024 * 1024;

    /// <summary>
    /// Bytes of complete messages waiting for Kafka (the channel and the producer's hands, until
    /// Kafka resolves them). A connection whose message cannot get bytes waits before it reads
    /// more: with a slow Kafka, this is the backpressure in bytes. Defaults to 134217728 (128 MiB);
    /// at least twice <c>Ingest:WebSocket:MaxMessageBytes</c>.
    /// </summary>
    [Range(1_048_576, 1L << 40)]
    public long MaxQueuedBytes { get; set; } = 128L * 1024 * 1024;

    /// <summary>
    /// After this many new connections (a connection storm, clients coming back after a restart),
    /// once their number stops growing, one compacting full collection gives back to the system the
    /// memory their handshakes left behind: about 1.2 KB of RSS per connection held, for one pause
    /// of about 14 ms per 1,000 connections held (261 ms at 19,000). Defaults to 1000; 0 turns it off.
    /// </summary>
    [Range(0, int.MaxValue)]
    public int TrimAfterConnections { get; set; } = 1_000;
}
