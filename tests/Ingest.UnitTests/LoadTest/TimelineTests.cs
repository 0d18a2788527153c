using System.Diagnostics;
using Ingest.LoadTest.Engine;
using Ingest.LoadTest.Reports;

namespace Ingest.UnitTests.LoadTest;

public sealed class TimelineTests
{
    [Fact]
    public void Sample_EachRowHoldsTheDifferencesAndTheLatenciesOfItsOwnInterval()
    {
        var stats = new LoadStats(latencyPerSecond: true);
        var timeline = new Timeline(stats, Stopwatch.GetTimestamp());

        Interlocked.Add(ref stats.EventsSent, 100);
        Interlocked.Add(ref stats.EventsAcked, 80);
        Interlocked.Add(ref stats.MessagesAcked, 4);
        foreach (var microseconds in new long[] { 1_000, 1_000, 1_000, 5_000 })
        {
            stats.AckLatency.Record(microseconds);
        }

        timeline.Sample();
        Interlocked.Add(ref stats.EventsSent, 10);
        Interlocked.Add(ref stats.EventsErrored, 2);
        timeline.Sample();

        var rows = timeline.Seconds;
        Assert.Equal(2, rows.Count);
        Assert.Equal(4, rows[0].Acks);
        Assert.Equal(1.0, rows[0].AckP50Ms);
        // HdrHistogram at 3 significant digits: within 0.1% above the recorded value.
        Assert.InRange(rows[0].AckP99Ms!.Value, 5.0, 5.005);
        Assert.InRange(rows[0].AckMaxMs!.Value, 5.0, 5.005);
        // Rates are over the interval's real length: 100 sent in it, 80 acked.
        Assert.True(rows[0].SentPerSecond > 0);
        Assert.Equal(0.8, rows[0].AckedPerSecond / rows[0].SentPerSecond, 2);
        // The second interval had sends and rejections but no acks: no latency, not the first's again.
        Assert.Equal(0, rows[1].Acks);
        Assert.Equal(2, rows[1].Errored);
        Assert.Null(rows[1].AckP50Ms);
        Assert.Null(rows[1].AckP99Ms);
        Assert.Equal(0, rows[1].AckedPerSecond);
        Assert.True(rows[1].SentPerSecond > 0);
        Assert.Equal([1, 2], rows.Select(r => r.Second));
        // The whole-run histogram still has every value.
        Assert.Equal(4, stats.AckLatency.Count);
    }

    [Fact]
    public async Task RunAsync_SamplesOnceASecond_AndTheRestWhenStopped()
    {
        var stats = new LoadStats(latencyPerSecond: true);
        var started = Stopwatch.GetTimestamp();
        var timeline = new Timeline(stats, started);
        using var stop = new CancellationTokenSource();

        var run = timeline.RunAsync(stop.Token);
        using (var tick = new PeriodicTimer(TimeSpan.FromMilliseconds(20)))
        {
            var deadline = Stopwatch.GetTimestamp() + (10 * Stopwatch.Frequency);
            while (timeline.Seconds.Count < 2)
            {
                Assert.True(Stopwatch.GetTimestamp() < deadline, "two seconds sampled within 10 s");
                await tick.WaitForNextTickAsync(TestContext.Current.CancellationToken);
            }
        }

        stats.AckLatency.Record(2_000);
        Interlocked.Increment(ref stats.MessagesAcked);
        await stop.CancelAsync();
        await run;

        var rows = timeline.Seconds;
        Assert.True(rows.Count >= 3, $"{rows.Count} rows");
        Assert.Equal(1, rows[0].Second);
        // Never before the whole second (a loaded machine may be late).
        Assert.True(rows[0].ElapsedSeconds >= 0.99, $"{rows[0]}");
        Assert.True(rows[1].ElapsedSeconds >= 1.99, $"{rows[1]}");
        // The ack recorded after the last whole second is in the last, partial row.
        Assert.Equal(1, rows[^1].Acks);
        Assert.Equal(2.0, rows[^1].AckP50Ms);
        Assert.Equal(1, rows.Sum(r => r.Acks));
    }

    [Fact]
    public void TakeInterval_WithoutIntervals_Throws() =>
        Assert.Throws<InvalidOperationException>(() => new LatencyHistogram().TakeInterval());

    [Fact]
    public void Csv_HasAHeaderAndOneRowPerSecond_EmptyWhereNoAckCame()
    {
        var csv = TimelineReport.ToCsv([Row(1, 1.0, 100, 90, 9, 1.5, 4.25), Row(2, 1.6, 50, 0, 0, null, null)]);

        Assert.Equal(
            "second,elapsed_s,sent_per_s,acked_per_s,acks,ack_p50_ms,ack_p99_ms,ack_max_ms,connections_open,errored\n"
            + "1,1,100,90,9,1.5,4.25,4.25,8,0\n"
            + "2,1.6,50,0,0,,,,8,0\n",
            csv);
    }

    [Fact]
    public void Section_MarkdownTableAndHtmlChartsWithEverySecond()
    {
        var seconds = Enumerable.Range(1, 5).Select(i => Row(i, i, i * 100, i * 90, i, i * 0.5, i * 2.0)).ToList();

        var section = TimelineReport.Section(seconds);

        Assert.Contains("## Per second", section.Markdown, StringComparison.Ordinal);
        Assert.Contains("| 3 | 300 | 270 | 3 | 1.5 | 6.0 | 6.0 | 8 | 0 |", section.Markdown, StringComparison.Ordinal);
        Assert.Equal(2, CountOf(section.Html, "<svg"));
        // Two series in each chart, each one unbroken line of five points.
        Assert.Equal(4, CountOf(section.Html, "<polyline"));
        Assert.Contains("<details><summary>5 rows</summary>", section.Html, StringComparison.Ordinal);
        Assert.Equal(5, CountOf(section.Html, "<tr><td class=\"num\">"));
    }

    [Fact]
    public void LineChart_ScalesToARoundMaximum_AndBreaksTheLineWhereValuesAreMissing()
    {
        var chart = new LineChart("<p99>", "ms", [1, 2, 3, 4, 5], [new LineSeries("p99", "#b00020", [10, 40, null, 30, null])]);

        var svg = chart.ToSvg();

        Assert.Contains("&lt;p99&gt; (ms)", svg, StringComparison.Ordinal);
        Assert.DoesNotContain("<p99>", svg, StringComparison.Ordinal);
        // 40 rounds up to 50: the grid's top label; seconds 1-2 are a line, second 4 alone a dot.
        Assert.Contains(">50</text>", svg, StringComparison.Ordinal);
        Assert.Equal(1, CountOf(svg, "<polyline"));
        Assert.Equal(1, CountOf(svg, "<circle"));
        // x = 64 + s/5 x 680; y = 44 + 202 - v/50 x 202.
        Assert.Contains("points=\"200,205.6 336,84.4\"", svg, StringComparison.Ordinal);
        Assert.Contains("cx=\"608\" cy=\"124.8\"", svg, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(0, 1)]
    [InlineData(0.3, 0.5)]
    [InlineData(1, 1)]
    [InlineData(1.2, 2)]
    [InlineData(2.5, 5)]
    [InlineData(7, 10)]
    [InlineData(12_345, 20_000)]
    public void NiceCeiling_IsOneTwoOrFiveTimesAPowerOfTen(double value, double expected) =>
        Assert.Equal(expected, LineChart.NiceCeiling(value), 9);

    [Fact]
    public void Sparkline_EachCharacterTheLargestOfItsGroup_BlankWithoutValues()
    {
        Assert.Equal("▁▅█", TimelineReport.Sparkline([0, 50, 100], 60));
        // Six values in three characters: the largest of each pair.
        Assert.Equal("▅ █", TimelineReport.Sparkline([10, 50, null, null, 100, 0], 3));
    }

    private static TimelineSecond Row(int second, double elapsed, double sent, double acked, long acks, double? p50, double? p99) =>
        new(second, elapsed, sent, acked, acks, 0, 8, p50, p99, p99);

    private static int CountOf(string text, string part)
    {
        var count = 0;
        for (var at = text.IndexOf(part, StringComparison.Ordinal); at >= 0; at = text.IndexOf(part, at + part.Length, StringComparison.Ordinal))
        {
            count++;
        }

        return count;
    }
}
