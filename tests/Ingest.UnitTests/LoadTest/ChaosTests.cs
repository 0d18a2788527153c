using Ingest.LoadTest.Chaos;

namespace Ingest.UnitTests.LoadTest;

public sealed class FaultSpecTests
{
    [Fact]
    public void ParsesTheFaultList()
    {
        var faults = FaultSpec.ParseList("broker-down:5, kafka-down:30,past-timeout,leader-moves,produce-errors,produce-timeouts,out-of-order,sigkill");

        Assert.Equal(
            ["broker-down:5", "kafka-down:30", "past-timeout", "leader-moves", "produce-errors", "produce-timeouts", "out-of-order", "sigkill"],
            faults.Select(f => f.Name));
        Assert.Equal(TimeSpan.FromSeconds(15), faults[2].Length(TimeSpan.FromSeconds(10)));
        Assert.False(faults[^1].IsBrokerFault);
        Assert.NotEmpty(FaultSpec.ParseList(FaultSpec.Default));
    }

    [Theory]
    [InlineData("broker-down")]
    [InlineData("broker-down:0")]
    [InlineData("broker-down:x")]
    [InlineData("sigkill:3")]
    [InlineData("earthquake")]
    public void RejectsWhatIsNotAFault(string text) =>
        Assert.Throws<FormatException>(() => FaultSpec.ParseList(text));
}

public sealed class TrendCheckTests
{
    private static List<ResourceSample> Samples(int count, Func<int, double> rssMib, Func<int, double> gen2, int pid = 1) =>
        Enumerable.Range(0, count).Select(i => new ResourceSample(i * 10, pid, (long)(rssMib(i) * 1048576), 50 * 1048576.0, i * 100, i * 10, gen2(i), 30, 300)).ToList();

    [Fact]
    public void SteadySawtooth_IsFlat()
    {
        var samples = Samples(60, i => 200 + (i % 5 * 8), i => i);

        var verdicts = TrendCheck.Check(samples);

        Assert.All(verdicts, v => Assert.Equal("FLAT", v.Verdict));
        Assert.False(TrendCheck.AnyGrows(verdicts));
    }

    [Fact]
    public void SlowLeak_Grows()
    {
        var samples = Samples(60, i => 200 + (i * 2), i => i);

        var rss = TrendCheck.Check(samples).Single(v => v.Series == "RSS");

        Assert.Equal("GROWS", rss.Verdict);
        Assert.True(rss.SlopePerHour > 0);
    }

    [Fact]
    public void CumulativeCounter_IsJudgedByItsRate()
    {
        // Gen2 collections every sample at a steady rate: the counter grows, the rate does not.
        Assert.Equal("FLAT", TrendCheck.Check(Samples(60, _ => 200, i => i * 2)).Single(v => v.Series.StartsWith("gen2", StringComparison.Ordinal)).Verdict);
        // A rate that climbs: gen2 collections ever more often.
        Assert.Equal("GROWS", TrendCheck.Check(Samples(60, _ => 200, i => i * i / 2.0)).Single(v => v.Series.StartsWith("gen2", StringComparison.Ordinal)).Verdict);
    }

    [Fact]
    public void TooFewSamples_IsNotAVerdict() =>
        Assert.All(TrendCheck.Check(Samples(4, _ => 200, i => i)), v => Assert.Equal("n/a", v.Verdict));

    [Fact]
    public void RuntimeMetrics_SumTheHeapOverGenerations_AndReadCollections()
    {
        const string text = """
            # TYPE dotnet_gc_collections_total counter
            dotnet_gc_collections_total{otel_scope_name="System.Runtime",gc_heap_generation="gen2"} 3
            dotnet_gc_collections_total{otel_scope_name="System.Runtime",gc_heap_generation="gen1"} 7
            dotnet_gc_collections_total{otel_scope_name="System.Runtime",gc_heap_generation="gen0"} 40
            # TYPE dotnet_gc_last_collection_heap_size_bytes gauge
            dotnet_gc_last_collection_heap_size_bytes{otel_scope_name="System.Runtime",gc_heap_generation="gen0"} 100
            dotnet_gc_last_collection_heap_size_bytes{otel_scope_name="System.Runtime",gc_heap_generation="gen2"} 900
            dotnet_gc_last_collection_heap_size_bytes{otel_scope_name="System.Runtime",gc_heap_generation="loh"} 1000
            """;

        Assert.Equal((2000.0, 40.0, 7.0, 3.0), ResourceSampler.RuntimeMetrics(text));
        Assert.Equal((null, null, null, null), ResourceSampler.RuntimeMetrics(null));
    }
}
