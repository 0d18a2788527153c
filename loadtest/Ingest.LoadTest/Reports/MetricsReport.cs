using System.Globalization;
using System.Net;
using System.Text;
using Ingest.LoadTest.Metrics;

namespace Ingest.LoadTest.Reports;

/// <summary>The gateway's <c>/metrics</c> histograms at the end of a run, as a report section and a console table.</summary>
internal static class MetricsReport
{
    private static readonly string[] Columns = ["histogram", "labels", "count", "sum", "mean", "p50", "p99"];

    private const string Note = "Read from the gateway's GET /metrics (Prometheus text format) at the end of the run: totals since the gateway started, "
        + "so they include earlier runs against the same gateway. p50 and p99 are estimated from the bucket counts as Prometheus's histogram_quantile does "
        + "(linear inside the bucket that holds them), so they are only as fine as the buckets; values are in the unit the metric's name gives.";

    public static IReadOnlyList<IReadOnlyList<string>> Rows(GatewayMetrics metrics) =>
        metrics.Histograms.Select(h => (IReadOnlyList<string>)[h.Name, h.Labels, N(h.Count), N(h.Sum), N(h.Mean), N(h.P50), N(h.P99)]).ToList();

    public static ReportSection Section(GatewayMetrics metrics)
    {
        const string Heading = "Gateway /metrics";
        var markdown = new StringBuilder().AppendLine(CultureInfo.InvariantCulture, $"## {Heading}").AppendLine();
        var html = new StringBuilder().AppendLine(CultureInfo.InvariantCulture, $"<h2>{Heading}</h2>");
        if (!metrics.Available || metrics.Histograms.Count == 0)
        {
            markdown.AppendLine(metrics.Headline);
            html.AppendLine(CultureInfo.InvariantCulture, $"<p class=\"metrics-note\">{WebUtility.HtmlEncode(metrics.Headline)}</p>");
            return new ReportSection(markdown.ToString(), html.ToString());
        }

        markdown.AppendLine(metrics.Headline + ". " + Note).AppendLine().Append(ReportTable.MarkdownTable(Columns, Rows(metrics), RightAligned));
        html.AppendLine(CultureInfo.InvariantCulture, $"<p>{WebUtility.HtmlEncode(metrics.Headline + ". " + Note)}</p>")
            .Append(ReportTable.HtmlTable(Columns, Rows(metrics), RightAligned));
        return new ReportSection(markdown.ToString(), html.ToString());
    }

    /// <summary>The table on the console, or the one line saying why there is none.</summary>
    public static void WriteToConsole(GatewayMetrics metrics, TextWriter line)
    {
        line.WriteLine(metrics.Headline);
        if (metrics.Available && metrics.Histograms.Count > 0)
        {
            new ReportTable(Columns, Rows(metrics), RightAligned).WriteToConsole();
        }
    }

    private static bool RightAligned(int column) => column >= 2;

    /// <summary>Four significant digits, thousands separated above 10,000; "-" when unknown.</summary>
    internal static string N(double? value) => value switch
    {
        null => "-",
        { } v when Math.Abs(v) >= 10_000 => v.ToString("N0", CultureInfo.InvariantCulture),
        { } v => v.ToString("G4", CultureInfo.InvariantCulture),
    };
}
