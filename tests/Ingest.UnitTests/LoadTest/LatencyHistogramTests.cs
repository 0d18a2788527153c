using System.Diagnostics;
using Ingest.LoadTest.Engine;

namespace Ingest.UnitTests.LoadTest;

public sealed class LatencyHistogramTests
{
    [Fact]
    public void Summarize_EmptyHistogram_IsAllZero()
    {
        var histogram = new LatencyHistogram();

        Assert.Equal(new LatencySummary(0, 0, 0, 0, 0), histogram.Summarize());
        Assert.Equal(0, histogram.Percentile(99));
    }

    [Fact]
    public void Percentile_SubMillisecondValues_AreExactToTheMicrosecond()
    {
        var histogram = new LatencyHistogram();
        for (var v = 1; v <= 20; v++)
        {
            histogram.Record(v);
        }

        Assert.Equal(10, histogram.Percentile(50));
        Assert.Equal(18, histogram.Percentile(90));
        Assert.Equal(20, histogram.Percentile(100));
    }

    [Fact]
    public void Percentile_UniformMillion_IsWithinATenthOfAPercentAbove()
    {
        var histogram = new LatencyHistogram();
        for (var v = 1; v <= 1_000_000; v++)
        {
            histogram.Record(v);
        }

        foreach (var (percentile, exact) in new[] { (50.0, 500_000L), (90.0, 900_000L), (99.0, 990_000L), (99.9, 999_000L) })
        {
            Assert.InRange(histogram.Percentile(percentile), exact, exact + (exact / 1000));
        }

        Assert.Equal(1_000_000, histogram.Count);
    }

    [Fact]
    public void Summarize_ReportsMillisecondsWithinPrecision()
    {
        var histogram = new LatencyHistogram();
        for (var i = 0; i < 98; i++)
        {
            histogram.Record(1_500);
        }

        histogram.Record(20_000);
        histogram.Record(123_457);

        var summary = histogram.Summarize();

        Assert.Equal(100, summary.Count);
        Assert.Equal(1.5, summary.P50Ms);
        Assert.Equal(1.5, summary.P90Ms);
        Assert.InRange(summary.P99Ms, 20.0, 20.02);
        Assert.InRange(summary.MaxMs, 123.457, 123.457 * 1.001);
    }

    [Fact]
    public void Record_OutOfRange_IsClampedInsteadOfThrowing()
    {
        var histogram = new LatencyHistogram();
        histogram.Record(-5);
        histogram.Record(long.MaxValue);

        Assert.Equal(2, histogram.Count);
        Assert.Equal(0, histogram.Percentile(50));
        Assert.InRange(histogram.Percentile(100), LatencyHistogram.HighestMicroseconds, LatencyHistogram.HighestMicroseconds * 1001 / 1000);
    }

    [Fact]
    public void RecordSince_StopwatchTimestamps_RecordsMicroseconds()
    {
        var histogram = new LatencyHistogram();
        var start = Stopwatch.GetTimestamp();
        histogram.RecordSince(start, start + (Stopwatch.Frequency / 100));
        // Three hours: beyond the range, and past where ticks * 1,000,000 overflows a long at 1 GHz.
        histogram.RecordSince(start, start + (3 * 3600 * Stopwatch.Frequency));

        Assert.InRange(histogram.Percentile(50), 10_000, 10_010);
        Assert.InRange(histogram.Percentile(100), LatencyHistogram.HighestMicroseconds, LatencyHistogram.HighestMicroseconds * 1001 / 1000);
    }

    [Fact]
    public async Task Record_FromManyTasks_CountsEveryValue()
    {
        var histogram = new LatencyHistogram();
        await Task.WhenAll(Enumerable.Range(0, 8).Select(t => Task.Run(() =>
        {
            for (var i = 0; i < 100_000; i++)
            {
                histogram.Record(i % 1000);
            }
        }, TestContext.Current.CancellationToken)));

        Assert.Equal(800_000, histogram.Count);
        Assert.Equal(999, histogram.Percentile(100));
        Assert.Equal(499, histogram.Percentile(50));
    }
}
