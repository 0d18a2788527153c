using Confluent.Kafka;
using Ingest.Listener.Consuming;

namespace Ingest.Listener;

/// <summary>
/// Observation points for tests and the benchmark. Every callback runs on the consume thread and
/// must return quickly.
/// </summary>
internal sealed class ListenerHooks
{
    /// <summary>Partitions were assigned and their start offsets resolved.</summary>
    public Action<IReadOnlyList<TopicPartition>>? PartitionsAssigned { get; init; }

    /// <summary>Partitions were revoked (after committing what was printed) or lost.</summary>
    public Action<IReadOnlyList<TopicPartition>>? PartitionsRevoked { get; init; }

    /// <summary>An event was handled; the argument is the run's total so far.</summary>
    public Action<long>? EventHandled { get; init; }

    /// <summary>The status was shown (at its rate, never per event) with this lag per partition.</summary>
    public Action<IReadOnlyList<PartitionLag>>? StatusShown { get; init; }
}
