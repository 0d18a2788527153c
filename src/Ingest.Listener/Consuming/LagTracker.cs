using System.Diagnostics;
using Confluent.Kafka;

namespace Ingest.Listener.Consuming;

/// <summary>
/// The consumer lag per assigned partition: high watermark minus position. Read at the status
/// line's rate, never per record, on the consume thread.
/// </summary>
/// <remarks>
/// <para>
/// <see cref="Read"/> uses values the client already holds, so it costs no broker round trip: the
/// position (<c>rd_kafka_position</c>, the offset after the last record handed to the listener) and
/// the high watermark that comes with every fetch response (<c>rd_kafka_get_watermark_offsets</c>).
/// librdkafka's statistics JSON has a <c>consumer_lag</c> too, but it counts from the committed
/// offset, which a fresh group never has, and it needs <c>statistics.interval.ms</c> and a JSON parse.
/// The fetcher stops fetching a partition while its prefetch queue is full, so when the listener is
/// far behind (64 MiB, librdkafka's <c>queued.max.messages.kbytes</c>) the high watermark, and so
/// the lag, is the one of the last fetch: a lower bound.
/// </para>
/// <para>
/// librdkafka knows a partition's position only after the listener handled one of its records.
/// Until then the position is where the partition starts, which this tracker records at
/// assignment: the end resolved for a fresh group, the committed offset of a named group (one
/// OffsetFetch request per assignment), or the low watermark when reading from the beginning.
/// </para>
/// </remarks>
internal sealed class LagTracker
{
    /// <summary>Start marker: the partition is read from its low watermark (the oldest record kept).</summary>
    private const long FromLowWatermark = -2;

    private readonly Dictionary<int, long> _starts = [];

    /// <summary>Records where newly assigned partitions start: explicit offsets, else what the group and the options resolve to.</summary>
    public void Assigned(IConsumer<byte[]?, byte[]?> consumer, IReadOnlyList<TopicPartitionOffset> starts, bool namedGroup, bool fromBeginning, TimeSpan timeout)
    {
        IReadOnlyList<TopicPartitionOffset> committed = [];
        if (namedGroup)
        {
            try
            {
                committed = consumer.Committed(starts.Select(s => s.TopicPartition), timeout);
            }
            catch (KafkaException)
            {
                // Unknown until a record of the partition is handled: shown as "?".
            }
        }

        foreach (var start in starts)
        {
            var partition = start.Partition.Value;
            var groupOffset = committed.FirstOrDefault(c => c.Partition == start.Partition)?.Offset.Value ?? -1;
            if (start.Offset.Value >= 0)
            {
                _starts[partition] = start.Offset.Value;
            }
            else if (groupOffset >= 0)
            {
                _starts[partition] = groupOffset;
            }
            else if (fromBeginning)
            {
                _starts[partition] = FromLowWatermark;
            }
            else
            {
                // auto.offset.reset=latest, resolved by librdkafka when fetching starts: unknown here.
                _starts.Remove(partition);
            }
        }
    }

    /// <summary>Forgets revoked or lost partitions.</summary>
    public void Revoked(IEnumerable<TopicPartition> partitions)
    {
        foreach (var partition in partitions)
        {
            _starts.Remove(partition.Partition.Value);
        }
    }

    /// <summary>The lag of every assigned partition from the client's own values, in partition order.</summary>
    public IReadOnlyList<PartitionLag> Read(IConsumer<byte[]?, byte[]?> consumer) =>
        ReadWith(consumer, static (c, tp) => c.GetWatermarkOffsets(tp));

    /// <summary>
    /// The lag of every assigned partition with high watermarks asked from the broker (one request
    /// per partition, all within <paramref name="budget"/>; a partition that gets no answer in time
    /// keeps the client's own value): exact at this moment, for the end of a run.
    /// </summary>
    public IReadOnlyList<PartitionLag> ReadFromBroker(IConsumer<byte[]?, byte[]?> consumer, TimeSpan budget)
    {
        var started = Stopwatch.GetTimestamp();
        return ReadWith(consumer, (c, tp) =>
        {
            var left = budget - Stopwatch.GetElapsedTime(started);
            if (left > TimeSpan.Zero)
            {
                try
                {
                    return c.QueryWatermarkOffsets(tp, left);
                }
                catch (KafkaException)
                {
                    // Fall through to the client's own value.
                }
            }

            return c.GetWatermarkOffsets(tp);
        });
    }

    private List<PartitionLag> ReadWith(IConsumer<byte[]?, byte[]?> consumer, Func<IConsumer<byte[]?, byte[]?>, TopicPartition, WatermarkOffsets> watermarksOf)
    {
        var lags = new List<PartitionLag>();
        foreach (var partition in consumer.Assignment.OrderBy(p => p.Partition.Value))
        {
            long position = -1, low = -1, high = -1;
            try
            {
                position = consumer.Position(partition).Value;
                var watermarks = watermarksOf(consumer, partition);
                (low, high) = (watermarks.Low.Value, watermarks.High.Value);
            }
            catch (KafkaException)
            {
                // Not known yet (e.g. the partition's leader is not known): shown as "?".
            }

            if (position < 0 && _starts.TryGetValue(partition.Partition.Value, out var start))
            {
                position = start == FromLowWatermark ? low : start;
            }

            lags.Add(new PartitionLag(partition.Partition.Value, position >= 0 ? position : null, high >= 0 ? high : null));
        }

        return lags;
    }
}
