using System.ComponentModel.DataAnnotations;

namespace Ingest.Gateway.Configuration;

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
