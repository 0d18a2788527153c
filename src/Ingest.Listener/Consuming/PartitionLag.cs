namespace Ingest.Listener.Consuming;

/// <summary>
/// One assigned partition's consumer lag: <see cref="HighWatermark"/> minus <see cref="Position"/>,
/// the records in the partition that this listener has not handled yet.
/// </summary>
/// <param name="Partition">The partition number.</param>
/// <param name="Position">
/// The offset of the next record the listener will handle: the consumer's position once a record
/// of the partition was handled, before that the offset it starts from; null when not known yet.
/// </param>
/// <param name="HighWatermark">The partition's high watermark (the offset the next record written gets); null when not known yet.</param>
internal readonly record struct PartitionLag(int Partition, long? Position, long? HighWatermark)
{
    /// <summary>Records left to handle; null when the position or the high watermark is not known.</summary>
    public long? Lag => Position is { } position && HighWatermark is { } high ? Math.Max(0, high - position) : null;

    /// <summary>The sum of the known lags; null when none is known.</summary>
    public static long? Total(IReadOnlyList<PartitionLag> lags)
    {
        long? total = null;
        foreach (var lag in lags)
        {
            if (lag.Lag is { } known)
            {
                total = (total ?? 0) + known;
            }
        }

        return total;
    }
}
