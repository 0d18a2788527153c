using System.Globalization;
using System.Net;
using System.Net.Http.Headers;

namespace Ingest.LoadTest.Metrics;

/// <summary>
/// The gateway's <c>GET /metrics</c> as read at the end of a run: each histogram series with its
/// count, sum and p50/p99 estimated from its buckets, or why there is none.
/// </summary>
/// <param name="Url">Where it was asked.</param>
/// <param name="Available">The endpoint answered 200 with text that parsed.</param>
/// <param name="Note">Why it is not available (<c>HTTP 404</c>, the connection error, the parse error); null when it is.</param>
/// <param name="Histograms">Series with at least one observation, the gateway's own (<c>ingest</c>) first.</param>
internal sealed record GatewayMetrics(string Url, bool Available, string? Note, IReadOnlyList<HistogramSummary> Histograms)
{
    /// <summary>The one line a report shows when there is nothing to show.</summary>
    public string Headline => Available
        ? $"gateway /metrics at {Url}: {Histograms.Count} histogram series with observations"
        : $"gateway /metrics not available ({Note})";

    /// <summary>Summarises a scrape: histogram series with observations, the gateway's own families first, then by name.</summary>
    public static GatewayMetrics From(string url, PrometheusScrape scrape) => new(
        url,
        Available: true,
        Note: null,
        scrape.Histograms()
            .Where(h => h.Count > 0)
            .OrderBy(h => h.Name.StartsWith("ingest", StringComparison.Ordinal) ? 0 : 1)
            .ThenBy(h => h.Name, StringComparer.Ordinal)
            .ThenBy(h => h.LabelText, StringComparer.Ordinal)
            .Select(HistogramSummary.Of)
            .ToList());

    public static GatewayMetrics NotAvailable(string url, string note) => new(url, false, note, []);
}

/// <summary>One histogram series for a report; values in the metric's own unit (its name says which, e.g. <c>_seconds</c>).</summary>
/// <param name="Name">The family name.</param>
/// <param name="Labels">Its labels as <c>key="value"</c> pairs, comma-separated.</param>
/// <param name="Count">Observations (<c>_count</c>).</param>
/// <param name="Sum">Their sum (<c>_sum</c>); null when absent.</param>
/// <param name="P50">Median estimated from the buckets (<see cref="HistogramSeries.Quantile"/>); null when it cannot be.</param>
/// <param name="P99">99th percentile estimated from the buckets; null when it cannot be.</param>
/// <param name="Buckets">Bucket upper bounds (<c>le</c>, as the text format writes them: <c>+Inf</c> last) and cumulative counts.</param>
internal sealed record HistogramSummary(string Name, string Labels, double Count, double? Sum, double? P50, double? P99, IReadOnlyList<BucketCount> Buckets)
{
    /// <summary>Sum over count; null without a sum.</summary>
    public double? Mean => Sum is { } sum && Count > 0 ? sum / Count : null;

    public static HistogramSummary Of(HistogramSeries series) => new(
        series.Name,
        series.LabelText,
        series.Count,
        Finite(series.Sum),
        Finite(series.Quantile(0.50)),
        Finite(series.Quantile(0.99)),
        series.Buckets.Select(b => new BucketCount(double.IsPositiveInfinity(b.UpperBound) ? "+Inf" : b.UpperBound.ToString("R", CultureInfo.InvariantCulture), b.CumulativeCount)).ToList());

    private static double? Finite(double value) => double.IsFinite(value) ? value : null;
}

/// <summary>One cumulative bucket of a <see cref="HistogramSummary"/>: <c>le</c> as text (JSON has no infinity).</summary>
internal sealed record BucketCount(string Le, double Count);

/// <summary>Reads the gateway's <c>GET /metrics</c> once; never throws for an unreachable or missing endpoint.</summary>
internal static class GatewayMetricsScraper
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);

    /// <summary>
    /// The metrics URL of a gateway whose WebSocket endpoint is <paramref name="webSocketUrl"/>:
    /// same host and port, <c>http</c> for <c>ws</c> and <c>https</c> for <c>wss</c>, path <c>/metrics</c>.
    /// </summary>
    public static Uri MetricsUrlFor(Uri webSocketUrl) =>
        new UriBuilder(webSocketUrl) { Scheme = webSocketUrl.Scheme == Uri.UriSchemeWss ? Uri.UriSchemeHttps : Uri.UriSchemeHttp, Path = "/metrics", Query = "" }.Uri;

    /// <summary>
    /// Asks <paramref name="url"/> for the Prometheus text format (<c>text/plain; version=0.0.4</c>)
    /// and summarises its histograms; a 404, any other status, a connection error, a timeout or text
    /// that does not parse gives a <see cref="GatewayMetrics"/> that says so instead.
    /// </summary>
    public static async Task<GatewayMetrics> ScrapeAsync(Uri url, CancellationToken cancellationToken)
    {
        using var http = new HttpClient { Timeout = Timeout };
        using var request = new HttpRequestMessage(HttpMethod.Get, url);
        request.Headers.Accept.Add(MediaTypeWithQualityHeaderValue.Parse("text/plain; version=0.0.4"));
        string text;
        try
        {
            using var response = await http.SendAsync(request, cancellationToken).ConfigureAwait(false);
            if (response.StatusCode != HttpStatusCode.OK)
            {
                return GatewayMetrics.NotAvailable(url.ToString(), $"HTTP {(int)response.StatusCode}");
            }

            text = await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (HttpRequestException e)
        {
            return GatewayMetrics.NotAvailable(url.ToString(), e.Message);
        }
        catch (TaskCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return GatewayMetrics.NotAvailable(url.ToString(), $"no answer within {Timeout.TotalSeconds:0} s");
        }

        try
        {
            return GatewayMetrics.From(url.ToString(), PrometheusText.Parse(text));
        }
        catch (FormatException e)
        {
            return GatewayMetrics.NotAvailable(url.ToString(), $"not the Prometheus text format: {e.Message}");
        }
    }
}
