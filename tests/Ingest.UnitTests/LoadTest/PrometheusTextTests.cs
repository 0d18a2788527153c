using Ingest.LoadTest.Metrics;

namespace Ingest.UnitTests.LoadTest;

public sealed class PrometheusTextTests
{
    /// <summary>
    /// Shaped like what OpenTelemetry's Prometheus exporter writes: HELP and TYPE lines, a counter
    /// and a gauge, two histograms with labels, one label value with every escape, a timestamp, an
    /// OpenMetrics exemplar, NaN and blank lines.
    /// </summary>
    private const string Sample = """
        # HELP ingest_events_total Events received, by outcome.
        # TYPE ingest_events_total counter
        ingest_events_total{outcome="accepted",otel_scope_name="Ingest.Gateway"} 1027 1700000000123
        ingest_events_total{outcome="invalid_json",otel_scope_name="Ingest.Gateway"} 3

        # HELP ingest_channel_depth Items in the channel.\nSecond line with a \\ backslash.
        # TYPE ingest_channel_depth gauge
        ingest_channel_depth 0
        # TYPE ingest_send_to_ack_seconds histogram
        # UNIT ingest_send_to_ack_seconds seconds
        ingest_send_to_ack_seconds_bucket{connection="a \"quoted\" \\path\\ and\nnewline",le="0.001"} 10
        ingest_send_to_ack_seconds_bucket{connection="a \"quoted\" \\path\\ and\nnewline",le="0.002"} 30
        ingest_send_to_ack_seconds_bucket{connection="a \"quoted\" \\path\\ and\nnewline",le="0.005"} 40 # {trace_id="4bf92f3577b34da6a3ce929d0e0e4736"} 0.0041 1700000000.123
        ingest_send_to_ack_seconds_bucket{connection="a \"quoted\" \\path\\ and\nnewline",le="+Inf"} 40
        ingest_send_to_ack_seconds_sum{connection="a \"quoted\" \\path\\ and\nnewline"} 0.07
        ingest_send_to_ack_seconds_count{connection="a \"quoted\" \\path\\ and\nnewline"} 40
        ingest_send_to_ack_seconds_bucket{connection="b",le="0.001"} 0
        ingest_send_to_ack_seconds_bucket{connection="b",le="0.002"} 0
        ingest_send_to_ack_seconds_bucket{connection="b",le="0.005"} 0
        ingest_send_to_ack_seconds_bucket{connection="b",le="+Inf"} 0
        ingest_send_to_ack_seconds_sum{connection="b"} 0
        ingest_send_to_ack_seconds_count{connection="b"} 0
        # TYPE kestrel_connection_duration_seconds histogram
        kestrel_connection_duration_seconds_bucket{le="1"} 10
        kestrel_connection_duration_seconds_bucket{le="+Inf"} 20
        kestrel_connection_duration_seconds_sum 45.5
        kestrel_connection_duration_seconds_count 20
        process_cpu_ratio NaN
        # EOF
        """;

    [Fact]
    public void Parse_ReadsFamiliesInOrder_WithTypeHelpAndUnit()
    {
        var scrape = PrometheusText.Parse(Sample);

        Assert.Equal(
            ["ingest_events_total", "ingest_channel_depth", "ingest_send_to_ack_seconds", "kestrel_connection_duration_seconds", "process_cpu_ratio"],
            scrape.Families.Select(f => f.Name));
        Assert.Equal(
            [MetricType.Counter, MetricType.Gauge, MetricType.Histogram, MetricType.Histogram, MetricType.Untyped],
            scrape.Families.Select(f => f.Type));
        Assert.Equal("Items in the channel.\nSecond line with a \\ backslash.", scrape.Families[1].Help);
        Assert.Equal("seconds", scrape.Families[2].Unit);
        Assert.True(double.IsNaN(Assert.Single(scrape.Families[4].Samples).Value));
    }

    [Fact]
    public void Parse_Sample_LabelsInOrder_ValueAndTimestamp()
    {
        var counter = PrometheusText.Parse(Sample).Families[0].Samples;

        Assert.Equal(2, counter.Count);
        Assert.Equal([new("outcome", "accepted"), new("otel_scope_name", "Ingest.Gateway")], counter[0].Labels);
        Assert.Equal(1027, counter[0].Value);
        Assert.Equal(1700000000123, counter[0].TimestampMs);
        Assert.Null(counter[1].TimestampMs);
        Assert.Equal("invalid_json", counter[1].Label("outcome"));
    }

    [Fact]
    public void Parse_LabelValueEscapes_AreUndone()
    {
        var histogram = PrometheusText.Parse(Sample).Families[2];

        Assert.Equal("a \"quoted\" \\path\\ and\nnewline", histogram.Samples[0].Label("connection"));
        Assert.Equal("0.001", histogram.Samples[0].Label("le"));
    }

    [Fact]
    public void Histograms_GroupBucketsSumAndCountPerLabelSet()
    {
        var histograms = PrometheusText.Parse(Sample).Histograms();

        Assert.Equal(3, histograms.Count);
        var first = histograms[0];
        Assert.Equal("ingest_send_to_ack_seconds", first.Name);
        Assert.Equal([new("connection", "a \"quoted\" \\path\\ and\nnewline")], first.Labels);
        Assert.Equal([0.001, 0.002, 0.005, double.PositiveInfinity], first.Buckets.Select(b => b.UpperBound));
        Assert.Equal([10.0, 30, 40, 40], first.Buckets.Select(b => b.CumulativeCount));
        Assert.Equal(0.07, first.Sum, 12);
        Assert.Equal(40, first.Count);
        Assert.Equal("connection=\"a \\\"quoted\\\" \\\\path\\\\ and\\nnewline\"", first.LabelText);
        Assert.Equal(0, histograms[1].Count);
        Assert.Empty(histograms[2].Labels);
        Assert.Equal(45.5, histograms[2].Sum);
    }

    [Fact]
    public void Quantile_InterpolatesInsideTheBucketThatHoldsTheRank()
    {
        var series = PrometheusText.Parse(Sample).Histograms()[0];

        // 40 observations: rank 20 is in (0.001, 0.002] holding 20 (10 below): 0.001 + 0.001 x 10/20.
        Assert.Equal(0.0015, series.Quantile(0.5), 12);
        // Rank 39.6 is in (0.002, 0.005] holding 10 (30 below): 0.002 + 0.003 x 9.6/10.
        Assert.Equal(0.00488, series.Quantile(0.99), 12);
        // Rank 4 is in the lowest bucket, which starts at 0: 0.001 x 4/10.
        Assert.Equal(0.0004, series.Quantile(0.1), 12);
        Assert.Equal(0.07 / 40, series.Mean, 12);
    }

    [Fact]
    public void Quantile_InTheInfBucket_IsTheHighestFiniteBound_AndEmptyIsNaN()
    {
        var histograms = PrometheusText.Parse(Sample).Histograms();

        // kestrel: 10 at or under 1 s, 10 more above: the p99 is only known to be above 1.
        Assert.Equal(1, histograms[2].Quantile(0.99));
        Assert.Equal(1, histograms[2].Quantile(0.5));
        Assert.True(double.IsNaN(histograms[1].Quantile(0.5)));
        Assert.True(double.IsNaN(histograms[1].Mean));
    }

    [Fact]
    public void GatewayMetrics_KeepsSeriesWithObservations_TheGatewaysOwnFirst()
    {
        var metrics = GatewayMetrics.From("http://127.0.0.1:5080/metrics", PrometheusText.Parse(Sample));

        Assert.True(metrics.Available);
        Assert.Equal(["ingest_send_to_ack_seconds", "kestrel_connection_duration_seconds"], metrics.Histograms.Select(h => h.Name));
        var ack = metrics.Histograms[0];
        Assert.Equal(40, ack.Count);
        Assert.Equal(0.0015, ack.P50!.Value, 12);
        Assert.Equal(0.00488, ack.P99!.Value, 12);
        Assert.Equal(["0.001", "0.002", "0.005", "+Inf"], ack.Buckets.Select(b => b.Le));
        Assert.Equal("gateway /metrics at http://127.0.0.1:5080/metrics: 2 histogram series with observations", metrics.Headline);
    }

    [Theory]
    [InlineData("metric{label=\"open} 1", "line 1: a label value is not closed")]
    [InlineData("metric{label=\"bad \\t escape\"} 1", "line 1: unknown escape '\\t' in a label value")]
    [InlineData("metric{label=\"x\" 1", "line 1: '}' expected at column 18, found '1'")]
    [InlineData("metric{=\"x\"} 1", "line 1: a label name was expected")]
    [InlineData("metric one", "line 1: 'one' is not a number")]
    [InlineData("metric", "line 1: a value was expected")]
    [InlineData("# TYPE metric sometype", "line 1: unknown metric type 'sometype'")]
    [InlineData("ok 1\n{x=\"y\"} 1", "line 2: a sample starts with a metric name")]
    [InlineData("metric 1 2 3", "line 1: unexpected text after the value and timestamp")]
    public void Parse_MalformedLine_ThrowsNamingTheLine(string text, string message)
    {
        var error = Assert.Throws<FormatException>(() => PrometheusText.Parse(text));

        Assert.StartsWith(message, error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("+Inf", double.PositiveInfinity)]
    [InlineData("-Inf", double.NegativeInfinity)]
    [InlineData("Inf", double.PositiveInfinity)]
    [InlineData("+infinity", double.PositiveInfinity)]
    [InlineData("-inf", double.NegativeInfinity)]
    [InlineData("1e-3", 0.001)]
    [InlineData("-2.5", -2.5)]
    [InlineData("17", 17)]
    public void ParseValue_ReadsGoFloatSpellings(string token, double expected) =>
        Assert.Equal(expected, PrometheusText.ParseValue(token));

    [Theory]
    [InlineData("NaN")]
    [InlineData("Nan")]
    [InlineData("nan")]
    public void ParseValue_NaN_InAnyCase(string token) => Assert.True(double.IsNaN(PrometheusText.ParseValue(token)));

    [Fact]
    public void MetricsUrlFor_TheSameHostAndPort_HttpForWs_HttpsForWss()
    {
        Assert.Equal(new Uri("http://127.0.0.1:5080/metrics"), GatewayMetricsScraper.MetricsUrlFor(new Uri("ws://127.0.0.1:5080/ws")));
        Assert.Equal(new Uri("https://ingest.example.com/metrics"), GatewayMetricsScraper.MetricsUrlFor(new Uri("wss://ingest.example.com/ws?access_token=k")));
    }
}
