using System.Globalization;
using System.Net;
using System.Text;
using Ingest.LoadTest.Engine;

namespace Ingest.LoadTest.Reports;

/// <summary>A horizontal bar chart, rendered as inline SVG for the HTML report (no scripts, no assets).</summary>
internal sealed record BarChart(string Title, string Unit, IReadOnlyList<(string Label, double Value)> Bars)
{
    private const int LabelWidth = 180, BarArea = 420, ValueWidth = 110, BarHeight = 22, Gap = 6, Top = 30;

    /// <summary>p50, p90, p99 and max of a latency summary, in milliseconds.</summary>
    public static BarChart Latency(string title, LatencySummary summary) =>
        new(title, "ms", [("p50", summary.P50Ms), ("p90", summary.P90Ms), ("p99", summary.P99Ms), ("max", summary.MaxMs)]);

    public string ToSvg()
    {
        var max = Bars.Count == 0 ? 0 : Bars.Max(b => b.Value);
        var scale = max <= 0 ? 0 : BarArea / max;
        var width = LabelWidth + BarArea + ValueWidth;
        var height = Top + (Bars.Count * (BarHeight + Gap)) + Gap;
        var svg = new StringBuilder()
            .Append(CultureInfo.InvariantCulture, $"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" role=\"img\" aria-label=\"{Encode(Title)}\">")
            .Append(CultureInfo.InvariantCulture, $"<text x=\"0\" y=\"18\" class=\"title\">{Encode(Title)}</text>");
        for (var i = 0; i < Bars.Count; i++)
        {
            var (label, value) = Bars[i];
            var y = Top + (i * (BarHeight + Gap));
            var barWidth = Math.Max(value > 0 ? 1 : 0, value * scale);
            svg.Append(CultureInfo.InvariantCulture, $"<text x=\"{LabelWidth - 8}\" y=\"{y + 15}\" text-anchor=\"end\">{Encode(label)}</text>")
                .Append(CultureInfo.InvariantCulture, $"<rect x=\"{LabelWidth}\" y=\"{y}\" width=\"{barWidth:0.#}\" height=\"{BarHeight}\" rx=\"3\" class=\"bar\"/>")
                .Append(CultureInfo.InvariantCulture, $"<text x=\"{LabelWidth + barWidth + 6:0.#}\" y=\"{y + 15}\">{value.ToString(value < 100 ? "N1" : "N0", CultureInfo.InvariantCulture)} {Encode(Unit)}</text>");
        }

        return svg.Append("</svg>").ToString();
    }

    private static string Encode(string text) => WebUtility.HtmlEncode(text);
}
