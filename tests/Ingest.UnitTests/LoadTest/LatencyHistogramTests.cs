using Ingest.LoadTest.Engine;

namespace Ingest.UnitTests.LoadTest;

public sealed class LatencyHistogramTests
{
    [Fact]
    public void Percentile_EmptyHistogram_IsZero()
    {
        var histogram = new LatencyHistogram();

        Assert.Equal(0, histogram.Percentile(99));
        Assert.Equal(0, histogram.Max);
        Assert.Equal(0, histogram.Count);
    }

    [Fact]
    public void Percentile_SmallValues_AreExact()
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
    public void Percentile_UniformMillion_IsWithinThreePercentAbove()
    {
        var histogram = new LatencyHistogram();
        for (var v = 1; v <= 1_000_000; v++)
        {
            histogram.Record(v);
        }

        foreach (var (percentile, exact) in new[] { (50.0, 500_000L), (90.0, 900_000L), (99.0, 990_000L), (99.9, 999_000L) })
        {
            var reported = histogram.Percentile(percentile);
            Assert.InRange(reported, exact, exact + (exact / LatencyHistogram.SubBuckets));
        }

        Assert.Equal(1_000_000, histogram.Max);
        Assert.Equal(500_000.5, histogram.Mean, precision: 3);
    }

    [Fact]
    public void Max_IsExactAndPercentilesNeverExceedIt()
    {
        var histogram = new LatencyHistogram();
        histogram.Record(1_000);
        histogram.Record(123_457);

        Assert.Equal(123_457, histogram.Max);
        Assert.Equal(123_457, histogram.Percentile(100));
        Assert.InRange(histogram.Percentile(50), 1_000, 1_000 + (1_000 / LatencyHistogram.SubBuckets));
    }

    [Fact]
    public void Record_NegativeValue_CountsAsZero()
    {
        var histogram = new LatencyHistogram();
        histogram.Record(-5);

        Assert.Equal(1, histogram.Count);
        Assert.Equal(0, histogram.Percentile(100));
    }

    [Theory]
    [InlineData(0L)]
    [InlineData(31L)]
    [InlineData(32L)]
    [InlineData(63L)]
    [InlineData(64L)]
    [InlineData(1_000_003L)]
    [InlineData(long.MaxValue)]
    public void BucketOf_ValueLiesWithinItsBucketBounds(long value)
    {
        var bucket = LatencyHistogram.BucketOf(value);
        var upper = LatencyHistogram.UpperBoundOf(bucket);
        var previousUpper = bucket == 0 ? -1 : LatencyHistogram.UpperBoundOf(bucket - 1);

        Assert.InRange(value, previousUpper + 1, upper);
    }

    [Fact]
    public void Add_MergesCountsAndMax()
    {
        var a = new LatencyHistogram();
        var b = new LatencyHistogram();
        for (var v = 1; v <= 10; v++)
        {
            a.Record(v);
            b.Record(v + 10);
        }

        a.Add(b);

        Assert.Equal(20, a.Count);
        Assert.Equal(20, a.Max);
        Assert.Equal(10, a.Percentile(50));
    }

    [Fact]
    public async Task Record_FromManyThreads_CountsEveryValue()
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
        Assert.Equal(999, histogram.Max);
    }
}
