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

    /// <summary>Values recorded.</summary>
    public long Count => _histogram.TotalCount;

    /// <summary>Records one value in microseconds.</summary>
    public void Record(long microseconds) => _histogram.RecordValue(Math.Clamp(microseconds, 0, HighestMicroseconds));

    /// <summary>Records the time from <paramref name="startTimestamp"/> to <paramref name="nowTimestamp"/> (<see cref="Stopwatch.GetTimestamp"/> values).</summary>
    public void RecordSince(long startTimestamp, long nowTimestamp) =>
        Record(Stopwatch.GetElapsedTime(startTimestamp, nowTimestamp).Ticks / TimeSpan.TicksPerMicrosecond);

    /// <summary>The value at <paramref name="percentile"/> (0 to 100) in microseconds; 0 when empty (where HdrHistogram throws).</summary>
    public long Percentile(double percentile) => Count == 0 ? 0 : _histogram.GetValueAtPercentile(percentile);

    /// <summary>p50, p90, p99 and max in milliseconds, for reports.</summary>
    public LatencySummary Summarize() => new(
        Count,
        Percentile(50) / 1000.0,
        Percentile(90) / 1000.0,
        Percentile(99) / 1000.0,
        (Count == 0 ? 0 : _histogram.GetMaxValue()) / 1000.0);
}

/// <summary>Latency percentiles in milliseconds.</summary>
public sealed record LatencySummary(long Count, double P50Ms, double P90Ms, double P99Ms, double MaxMs);
