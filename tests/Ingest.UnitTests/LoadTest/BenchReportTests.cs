using Ingest.LoadTest.Bench;
using Ingest.LoadTest.Engine;
using Ingest.LoadTest.Metrics;
using Ingest.LoadTest.Reports;

namespace Ingest.UnitTests.LoadTest;

public sealed class BenchReportTests
{
    private static readonly LatencySummary Latency = new(100, 1, 2, 3, 4);

    [Fact]
    public void Render_TheThreeWayTableComesFirst_WithCpuRatiosToTheRawProducerWithoutHeaders()
    {
        var result = Result();

        var first = BenchReport.Render(result)[0];

        Assert.Contains("round 2 of 3", first.Heading, StringComparison.Ordinal);
        Assert.Equal(["", "events", "events/s", "events/s vs (a)", "CPU us/event", "CPU vs (a)"], first.Columns);
        Assert.Equal(4, first.Rows.Count);
        Assert.StartsWith("(a) raw producer, key + value, no headers", first.Rows[0][0], StringComparison.Ordinal);
        Assert.StartsWith("(b) the gateway's producer alone", first.Rows[1][0], StringComparison.Ordinal);
        Assert.StartsWith("(c) gateway warm", first.Rows[2][0], StringComparison.Ordinal);
        Assert.StartsWith("gateway cold: first 200,000 events", first.Rows[3][0], StringComparison.Ordinal);
        // (a) 4 us and 200,000/s; (b) 5 us; (c) 10 us at 100,000/s; cold 16 us from the load, 20 from process start.
        Assert.Equal(["(a) raw producer, key + value, no headers", "500,000", "200,000", "100 %", "4.0", "1.00x"], first.Rows[0]);
        Assert.Equal("1.25x", first.Rows[1][5]);
        Assert.Equal(["50 %", "10.0", "2.50x"], first.Rows[2].Skip(3));
        Assert.Equal("16.0 (20.0 from process start)", first.Rows[3][4]);
        Assert.Equal("4.00x (5.00x)", first.Rows[3][5]);
    }

    [Fact]
    public void ToMarkdown_SectionsInOrder_ComparisonThenLatencyThenMemory_AndTheEnvironmentOnTop()
    {
        var markdown = BenchReport.ToMarkdown(Result(), "Ingest bench");

        var environment = markdown.IndexOf("Gateway environment: /repo/deploy/gateway.env: DOTNET_TieredPGO=1", StringComparison.Ordinal);
        var comparison = markdown.IndexOf("## Raw producer vs gateway", StringComparison.Ordinal);
        var latency = markdown.IndexOf("## Latency at 20,000 events/s", StringComparison.Ordinal);
        var memory = markdown.IndexOf("## Memory", StringComparison.Ordinal);
        Assert.True(environment > 0 && environment < comparison && comparison < latency && latency < memory, markdown);
        Assert.Contains("|---|---:|---:|---:|---:|---:|", markdown, StringComparison.Ordinal);
        Assert.Contains("the gateway adds +5.0 ms at p99", markdown, StringComparison.Ordinal);
        Assert.Contains("| 2 (median) |", markdown, StringComparison.Ordinal);
        Assert.Contains("cold/warm events/s (first events of a fresh gateway over (c)) | 75 % |", markdown, StringComparison.Ordinal);
    }

    [Fact]
    public void ToMarkdownAndHtml_EndWithTheGatewaysMetrics_OrWhyThereAreNone()
    {
        var result = Result();
        result.GatewayMetrics = GatewayMetrics.NotAvailable("http://127.0.0.1:5555/metrics", "HTTP 404");

        var markdown = BenchReport.ToMarkdown(result, "Ingest bench");
        var html = BenchReport.ToHtml(result, "Ingest bench");

        Assert.True(markdown.IndexOf("## Memory", StringComparison.Ordinal) < markdown.IndexOf("## Gateway /metrics", StringComparison.Ordinal), markdown);
        Assert.EndsWith("## Gateway /metrics\n\ngateway /metrics not available (HTTP 404)\n", markdown.ReplaceLineEndings("\n"), StringComparison.Ordinal);
        Assert.Contains("<h2>Gateway /metrics</h2>", html, StringComparison.Ordinal);
        Assert.Contains("gateway /metrics not available (HTTP 404)", html, StringComparison.Ordinal);

        result.GatewayMetrics = GatewayMetrics.From("http://127.0.0.1:5555/metrics", PrometheusText.Parse(
            "# TYPE ingest_batch_size histogram\ningest_batch_size_bucket{le=\"10\"} 5\ningest_batch_size_bucket{le=\"+Inf\"} 10\ningest_batch_size_sum 300\ningest_batch_size_count 10\n"));
        Assert.Contains("| ingest_batch_size |  | 10 | 300 | 30 | 10 | 10 |", BenchReport.ToMarkdown(result, "Ingest bench"), StringComparison.Ordinal);
    }

    [Fact]
    public void MedianRoundOf_TakesTheRoundWithTheMedianGatewayOverRawCpuRatio()
    {
        IReadOnlyList<BenchRound> rounds = [Round(1, gatewayCpu: 3.0), Round(2, gatewayCpu: 1.0), Round(3, gatewayCpu: 2.0)];

        Assert.Equal(3, BenchResult.MedianRoundOf(rounds));
        Assert.Equal(0, BenchResult.MedianRoundOf([]));
    }

    [Fact]
    public void CheckCounts_NamesEveryRunWhoseCountsDiffer()
    {
        var result = Result();
        result.Rounds = [.. result.Rounds.Select(r => r.Number == 3 ? r with { Gateway = r.Gateway with { Landed = r.Gateway.Landed - 1 } } : r)];
        result.Cold = result.Cold! with { Load = result.Cold.Load with { Acked = 199_999 } };

        var failures = result.CheckCounts();

        Assert.Equal(2, failures.Count);
        Assert.StartsWith("round 3 (c) gateway: sent 500,000, acked 500,000, errored 0, landed 499,999", failures[0], StringComparison.Ordinal);
        Assert.StartsWith("gateway cold start:", failures[1], StringComparison.Ordinal);
        Assert.Empty(Result().CheckCounts());
    }

    private static BenchResult Result()
    {
        var result = new BenchResult
        {
            Connections = 64,
            Events = 500_000,
            Batch = 1,
            Window = 64,
            Partitions = 8,
            Cores = 2,
            GatewayEnvironment = "/repo/deploy/gateway.env: DOTNET_TieredPGO=1",
            Rounds = [Round(1, gatewayCpu: 12), Round(2, gatewayCpu: 10), Round(3, gatewayCpu: 8)],
            MedianRound = 2,
            RawPaced = new RawPacedResult("none", 20_000, 200_000, 200_000, 0, 10, 2, new LatencySummary(200_000, 4, 6, 8, 12), Latency),
            RawPacedLanded = 200_000,
            GatewayPaced = new GatewayPaced(20_000, Gateway(200_000, seconds: 10, cpuSeconds: 4, processCpu: 100, latency: new LatencySummary(200_000, 6, 9, 13, 20)), Latency, 30),
            // 200,000 events at 75,000/s; 3.2 CPU s from the load, 4 from process start.
            Cold = new ColdStart(Gateway(200_000, seconds: 200_000 / 75_000.0, cpuSeconds: 3.2, processCpu: 4, latency: Latency), 1.1, 0.8),
            IdleConnections = 10_000,
            RssBeforeBytes = 100 << 20,
            RssAfterBytes = 250 << 20,
            BytesPerIdleConnection = 150 * 1024 * 1024 / 10_000.0,
        };
        result.Failures = result.CheckCounts();
        return result;
    }

    /// <summary>(a) 4 us/event at 200,000/s, (b) 5 us at 180,000/s, (c) <paramref name="gatewayCpu"/> us at 100,000/s; 500,000 events each.</summary>
    private static BenchRound Round(int number, double gatewayCpu) => new(
        number,
        new RawMeasure("none", 500_000, 500_000, 0, 500_000, 2.5, 2.0, 0.5),
        new RawMeasure("gateway", 500_000, 500_000, 0, 500_000, 500_000 / 180_000.0, 2.5, 0.5),
        Gateway(500_000, seconds: 5, cpuSeconds: gatewayCpu * 0.5, processCpu: 50, latency: Latency));

    private static GatewayMeasure Gateway(long events, double seconds, double cpuSeconds, double processCpu, LatencySummary latency) =>
        new(events, events, 0, events, events, seconds, cpuSeconds, processCpu, 3, 800 * events, events / 16, 8, latency);
}
