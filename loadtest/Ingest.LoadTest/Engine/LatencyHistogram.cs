namespace Ingest.LoadTest.Engine;

/// <summary>
/// A log-bucketed latency histogram in microseconds, safe for concurrent recording. Values are
/// grouped by power of two, each power split into <see cref="SubBuckets"/> linear buckets, so a
/// reported percentile is within 1/<see cref="SubBuckets"/> (about 3%) above the true value; values
/// below <see cref="SubBuckets"/> microseconds are exact. HdrHistogram is not in this machine's
/// NuGet feed, hence this small one.
/// </summary>
public sealed class LatencyHistogram
{
    /// <summary>Linear buckets per power of two.</summary>
    public const int SubBuckets = 32;

    private const int SubBucketBits = 5; // log2(SubBuckets)
    private const int Powers = 64 - SubBucketBits;

    private readonly long[] _counts = new long[(Powers + 1) * SubBuckets];
    private long _count;
    private long _max;
    private long _sum;

    /// <summary>Values recorded.</summary>
    public long Count => Volatile.Read(ref _count);

    /// <summary>Largest value recorded, exactly, in microseconds.</summary>
    public long Max => Volatile.Read(ref _max);

    /// <summary>Mean in microseconds, or 0 when empty.</summary>
    public double Mean => Count == 0 ? 0 : (double)Volatile.Read(ref _sum) / Count;

    /// <summary>Records one value in microseconds; negative values count as 0.</summary>
    public void Record(long microseconds)
    {
        if (microseconds < 0)
        {
            microseconds = 0;
        }

        Interlocked.Increment(ref _counts[BucketOf(microseconds)]);
        Interlocked.Increment(ref _count);
        Interlocked.Add(ref _sum, microseconds);
        var max = Volatile.Read(ref _max);
        while (microseconds > max)
        {
            var seen = Interlocked.CompareExchange(ref _max, microseconds, max);
            if (seen == max)
            {
                break;
            }

            max = seen;
        }
    }

    /// <summary>Records the time elapsed since a <see cref="System.Diagnostics.Stopwatch.GetTimestamp"/> value.</summary>
    public void RecordSince(long startTimestamp, long nowTimestamp) =>
        Record((nowTimestamp - startTimestamp) * 1_000_000 / System.Diagnostics.Stopwatch.Frequency);

    /// <summary>Adds every value of <paramref name="other"/> to this histogram.</summary>
    public void Add(LatencyHistogram other)
    {
        ArgumentNullException.ThrowIfNull(other);
        for (var i = 0; i < _counts.Length; i++)
        {
            var c = Volatile.Read(ref other._counts[i]);
            if (c != 0)
            {
                Interlocked.Add(ref _counts[i], c);
            }
        }

        Interlocked.Add(ref _count, other.Count);
        Interlocked.Add(ref _sum, Volatile.Read(ref other._sum));
        var otherMax = other.Max;
        if (otherMax > Max)
        {
            Volatile.Write(ref _max, otherMax);
        }
    }

    /// <summary>
    /// The value at <paramref name="percentile"/> (0 to 100] in microseconds: the upper bound of the
    /// bucket holding that rank, capped at <see cref="Max"/>; 0 when empty.
    /// </summary>
    public long Percentile(double percentile)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(percentile);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(percentile, 100);
        var count = Count;
        if (count == 0)
        {
            return 0;
        }

        var rank = (long)Math.Ceiling(percentile / 100 * count);
        long seen = 0;
        for (var i = 0; i < _counts.Length; i++)
        {
            seen += Volatile.Read(ref _counts[i]);
            if (seen >= rank)
            {
                return Math.Min(UpperBoundOf(i), Max);
            }
        }

        return Max;
    }

    /// <summary>p50, p90, p99 and max in milliseconds, for reports.</summary>
    public LatencySummary Summarize() => new(
        Count,
        Percentile(50) / 1000.0,
        Percentile(90) / 1000.0,
        Percentile(99) / 1000.0,
        Max / 1000.0);

    /// <summary>Bucket index: values below 32 are exact; above, 32 buckets per power of two.</summary>
    internal static int BucketOf(long value)
    {
        if (value < SubBuckets)
        {
            return (int)value;
        }

        // value >> shift is in [32, 64): its low 5 bits pick the bucket within the power.
        var shift = 63 - (int)long.LeadingZeroCount(value) - SubBucketBits;
        return ((shift + 1) * SubBuckets) + (int)((value >> shift) - SubBuckets);
    }

    /// <summary>Largest value that falls in <paramref name="bucket"/>.</summary>
    internal static long UpperBoundOf(int bucket)
    {
        if (bucket < SubBuckets)
        {
            return bucket;
        }

        var shift = (bucket / SubBuckets) - 1;
        var lower = (long)(SubBuckets + (bucket % SubBuckets)) << shift;
        return lower + (1L << shift) - 1;
    }
}

/// <summary>Latency percentiles in milliseconds.</summary>
public sealed record LatencySummary(long Count, double P50Ms, double P90Ms, double P99Ms, double MaxMs);
