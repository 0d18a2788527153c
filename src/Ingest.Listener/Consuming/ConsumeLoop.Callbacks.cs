using Confluent.Kafka;

namespace Ingest.Listener.Consuming;

/// <summary>The consumer's rebalance and error callbacks, which run on the consume thread.</summary>
internal sealed partial class ConsumeLoop
{
    private IEnumerable<TopicPartitionOffset> OnAssigned(IConsumer<byte[]?, byte[]?> consumer, List<TopicPartition> partitions)
    {
        TopicPartitionOffset[] start;
        if (_options.GroupId is null && !_options.FromBeginning)
        {
            // A fresh group starts "from the end": resolve the end now, so that "from the end"
            // means from the moment partitions are assigned, not from the first fetch some time
            // later (auto.offset.reset=latest resolves lazily and would skip what came between).
            start = partitions.Select(p => new TopicPartitionOffset(p, consumer.QueryWatermarkOffsets(p, WatermarkTimeout).High)).ToArray();
        }
        else
        {
            // Committed offsets of a named group, else auto.offset.reset.
            start = partitions.Select(p => new TopicPartitionOffset(p, Offset.Unset)).ToArray();
        }

        _lag?.Assigned(consumer, start, namedGroup: _options.GroupId is not null, _options.FromBeginning, WatermarkTimeout);
        _hooks?.PartitionsAssigned?.Invoke(partitions);
        return start;
    }

    private void OnRevoked(IConsumer<byte[]?, byte[]?> consumer, List<TopicPartitionOffset> partitions)
    {
        // Commit what was printed before the partitions go to another member, which then resumes
        // exactly after it: no event is printed twice across the group (KIP-429's "revoke" step).
        if (_options.CommitsOffsets && _fatal is null)
        {
            Flush();
            Commit(consumer);
        }

        _lag?.Revoked(partitions.Select(p => p.TopicPartition));
        _hooks?.PartitionsRevoked?.Invoke(partitions.Select(p => p.TopicPartition).ToArray());
    }

    private void OnLost(IConsumer<byte[]?, byte[]?> consumer, List<TopicPartitionOffset> partitions)
    {
        // Lost (session timed out): another member may own them already, so committing is unsafe.
        _lag?.Revoked(partitions.Select(p => p.TopicPartition));
        _hooks?.PartitionsRevoked?.Invoke(partitions.Select(p => p.TopicPartition).ToArray());
    }

    private void OnError(IConsumer<byte[]?, byte[]?> consumer, Error error)
    {
        if (error.IsFatal)
        {
            _fatal = error;
            return;
        }

        Report(error);
    }

    /// <summary>Reports a transient error; an error of the same code is shown at most every 10 s.</summary>
    private void Report(Error error)
    {
        var now = Elapsed;
        if (_lastErrorAt.TryGetValue(error.Code, out var last) && now - last < RepeatedErrorInterval)
        {
            return;
        }

        _lastErrorAt[error.Code] = now;
        _console.WriteDiagnostic($"kafka: {error.Reason} ({error.Code})");
    }
}
