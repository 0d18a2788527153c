namespace Ingest.Kafka.Embedded;

/// <summary>Shape of the embedded development broker (configuration section <c>Ingest:Kafka:Embedded</c>).</summary>
public sealed class EmbeddedKafkaOptions
{
    /// <summary>Number of brokers. Defaults to 3, so that one broker can be taken down in tests while the cluster serves on.</summary>
    public int Brokers { get; set; } = 3;

    /// <summary>
    /// Partitions of each topic the broker creates. Defaults to 8: the embedded broker keeps at most
    /// 5 MiB per partition (silently dropping older batches), so more partitions keep more data.
    /// </summary>
    public int Partitions { get; set; } = 8;

    /// <summary>
    /// Where to publish the broker's address for the listener and the harness. Defaults to
    /// <see cref="Discovery.DevEnvironmentFile.DefaultPath"/>; empty means do not publish.
    /// </summary>
    public string? DiscoveryFile { get; set; }
}
