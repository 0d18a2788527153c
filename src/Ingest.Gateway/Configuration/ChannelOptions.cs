using System.ComponentModel.DataAnnotations;

namespace Ingest.Gateway.Configuration;

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
