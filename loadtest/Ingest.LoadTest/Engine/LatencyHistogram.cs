using System.Diagnostics;
using HdrHistogram;

namespace Ingest.LoadTest.Engine;

/// <summary>
/// Latencies recorded in microseconds by many clients at once and reported in milliseconds: a thin
/// wrapper over HdrHistogram's <see cref="LongConcurrentHistogram"/> (lossless concurrent recording)
/// with three significant digits, so a reported percentile is at most 0.1% above the recorded value
/// and values below 2,048 us are exact. Values are clamped to [0, <see cref="HighestMicroseconds"/>],
/// where HdrHistogram itself would throw.
/// </summary>
/// <remarks>
/// One histogram is shared by all the clients of a step, not one per client merged at the end: at
/// about 190 KB each, 5,000 clients would hold close to 1 GB. Reads while clients record (the
/// progress line's p99) may see a value being recorded or not; summaries are taken after recording ends.
/// </remarks>
internal sealed class LatencyHistogram
{
    /// <summary>The largest value told apart: an hour, in microseconds; longer latencies count as this.</summary>
    public const long HighestMicroseconds = 3_600_000_000;

    /// <summary>Decimal digits of resolution kept over the whole range.</summary>
    public const int SignificantDigits = 3;

    private readonly LongConcurrentHistogram _histogram = new(1, HighestMicroseconds, SignificantDigits);
    private readonly Recorder? _interval;
    private HistogramBase? _recycled;

    /// <param name="intervals">
    /// Also record into an HdrHistogram <see cref="Recorder"/>, so that <see cref="TakeInterval"/>
    /// gives the values recorded since its last call (the report's per-second p50/p99). It costs a
    /// second recording per value, so only the scenarios, not the bench, ask for it.
    /// </param>
    public LatencyHistogram(bool intervals = false)
    {
        if (intervals)
        {
            _interval = new Recorder(1, HighestMicroseconds, SignificantDigits, static (id, lowest, highest, digits) => new LongConcurrentHistogram(id, lowest, highest, digits));
        }
    }

    /// <summary>Values recorded.</summary>
    public long Count => _histogram.TotalCount;

    /// <summary>Records one value in microseconds.</summary>
    public void Record(long microseconds)
    {
        var value = Math.Clamp(microseconds, 0, HighestMicroseconds);
        _histogram.RecordValue(value);
        _interval?.RecordValue(value);
    }

    /// <summary>
    /// The values recorded since the previous call (or since creation), summarised in milliseconds;
    /// recording goes on meanwhile without a lock (HdrHistogram's <see cref="Recorder"/> swaps its
    /// two histograms). One caller at a time.
    /// </summary>
    public LatencySummary TakeInterval()
    {
        if (_interval is null)
        {
            throw new InvalidOperationException("This histogram was created without intervals.");
        }

        var interval = _interval.GetIntervalHistogram(_recycled);
        _recycled = interval;
        return Summarize(interval);
    }

    /// <summary>Records the time from <paramref name="startTimestamp"/> to <paramref name="nowTimestamp"/> (<see cref="Stopwatch.GetTimestamp"/> values).</summary>
    public void RecordSince(long startTimestamp, long nowTimestamp) =>
        Record(Stopwatch.GetElapsedTime(startTimestamp, nowTimestamp).Ticks / TimeSpan.TicksPerMicrosecond);

    /// <summary>The value at <paramref name="percentile"/> (0 to 100) in microseconds; 0 when empty (where HdrHistogram throws).</summary>
    public long Percentile(double percentile) => Count == 0 ? 0 : _histogram.GetValueAtPercentile(percentile);

    /// <summary>p50, p90, p99 and max in milliseconds, for reports.</summary>
    public LatencySummary Summarize() => Summarize(_histogram);

    private static LatencySummary Summarize(HistogramBase histogram)
    {
        var count = histogram.TotalCount;
        return count == 0
            ? new LatencySummary(0, 0, 0, 0, 0)
            : new LatencySummary(
                count,
                histogram.GetValueAtPercentile(50) / 1000.0,
                histogram.GetValueAtPercentile(90) / 1000.0,
                histogram.GetValueAtPercentile(99) / 1000.0,
                histogram.GetMaxValue() / 1000.0);
    }
}

/// <summary>Latency percentiles in milliseconds.</summary>
public sealed record LatencySummary(long Count, double P50Ms, double P90Ms, double P99Ms, double MaxMs);
