using System.Globalization;
using System.Net;
using System.Text;

namespace Ingest.LoadTest.Reports;

/// <summary>One line of a <see cref="LineChart"/>: a value per x, null where there is none (the line breaks there).</summary>
internal sealed record LineSeries(string Name, string Colour, IReadOnlyList<double?> Values);

/// <summary>
/// A line chart over time, rendered as inline SVG for the HTML report (no scripts, no assets): y
/// from 0 to a round maximum with grid lines, x in seconds, a legend, one polyline per unbroken
/// stretch of each series (a lone point is a dot).
/// </summary>
internal sealed record LineChart(string Title, string Unit, IReadOnlyList<double> X, IReadOnlyList<LineSeries> Series)
{
    internal const int Width = 760, Height = 280, Left = 64, Right = 16, Top = 44, Bottom = 34;

    private const int PlotWidth = Width - Left - Right, PlotHeight = Height - Top - Bottom;

    public string ToSvg()
    {
        var culture = CultureInfo.InvariantCulture;
        var maxX = X.Count == 0 ? 1 : Math.Max(1, X[^1]);
        var maxY = NiceCeiling(Series.SelectMany(s => s.Values).Where(v => v is not null).Select(v => v!.Value).DefaultIfEmpty(0).Max());
        double Px(double x) => Left + (x / maxX * PlotWidth);
        double Py(double y) => Top + PlotHeight - (y / maxY * PlotHeight);

        var svg = new StringBuilder()
            .Append(culture, $"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{Width}\" height=\"{Height}\" role=\"img\" aria-label=\"{Encode(Title)}\" class=\"line-chart\">")
            .Append(culture, $"<text x=\"0\" y=\"18\" class=\"title\">{Encode(Title)} ({Encode(Unit)})</text>");

        // Legend, right-aligned on the title's line.
        var legendX = Width - Right;
        foreach (var series in Series.Reverse())
        {
            legendX -= 14 + (7 * series.Name.Length) + 16;
            svg.Append(culture, $"<rect x=\"{legendX}\" y=\"9\" width=\"12\" height=\"4\" fill=\"{series.Colour}\"/>")
                .Append(culture, $"<text x=\"{legendX + 16}\" y=\"16\" class=\"legend\">{Encode(series.Name)}</text>");
        }

        // Grid and y labels: five steps of maxY / 5.
        for (var i = 0; i <= 5; i++)
        {
            var value = maxY * i / 5;
            var y = Py(value);
            svg.Append(culture, $"<line x1=\"{Left}\" y1=\"{y:0.#}\" x2=\"{Width - Right}\" y2=\"{y:0.#}\" stroke=\"#e1e4ea\"/>")
                .Append(culture, $"<text x=\"{Left - 6}\" y=\"{y + 4:0.#}\" text-anchor=\"end\" class=\"tick\">{Label(value)}</text>");
        }

        // X ticks at a round step, at most about ten of them.
        var step = NiceStep(maxX / 10);
        for (var x = 0.0; x <= maxX + 1e-9; x += step)
        {
            var px = Px(x);
            svg.Append(culture, $"<line x1=\"{px:0.#}\" y1=\"{Top + PlotHeight}\" x2=\"{px:0.#}\" y2=\"{Top + PlotHeight + 4}\" stroke=\"#667085\"/>")
                .Append(culture, $"<text x=\"{px:0.#}\" y=\"{Top + PlotHeight + 18}\" text-anchor=\"middle\" class=\"tick\">{Label(x)} s</text>");
        }

        svg.Append(culture, $"<line x1=\"{Left}\" y1=\"{Top + PlotHeight}\" x2=\"{Width - Right}\" y2=\"{Top + PlotHeight}\" stroke=\"#667085\"/>");
        foreach (var series in Series)
        {
            var points = new List<string>();
            void Flush()
            {
                if (points.Count == 1)
                {
                    var xy = points[0].Split(',');
                    svg.Append(culture, $"<circle cx=\"{xy[0]}\" cy=\"{xy[1]}\" r=\"2\" fill=\"{series.Colour}\"/>");
                }
                else if (points.Count > 1)
                {
                    svg.Append(culture, $"<polyline fill=\"none\" stroke=\"{series.Colour}\" stroke-width=\"1.5\" points=\"{string.Join(' ', points)}\"/>");
                }

                points.Clear();
            }

            for (var i = 0; i < X.Count && i < series.Values.Count; i++)
            {
                if (series.Values[i] is { } value)
                {
                    points.Add(string.Create(culture, $"{Px(X[i]):0.#},{Py(value):0.#}"));
                }
                else
                {
                    Flush();
                }
            }

            Flush();
        }

        return svg.Append("</svg>").ToString();
    }

    /// <summary>The smallest of 1, 2 or 5 x 10^k at or above <paramref name="value"/> (1 for 0 or less).</summary>
    internal static double NiceCeiling(double value)
    {
        if (value <= 0 || !double.IsFinite(value))
        {
            return 1;
        }

        var magnitude = Math.Pow(10, Math.Floor(Math.Log10(value)));
        foreach (var factor in (ReadOnlySpan<double>)[1, 2, 5, 10])
        {
            if (factor * magnitude >= value * (1 - 1e-12))
            {
                return factor * magnitude;
            }
        }

        return 10 * magnitude;
    }

    /// <summary>A round tick step (1, 2, 5 x 10^k, at least 1) at or above <paramref name="value"/>.</summary>
    private static double NiceStep(double value) => Math.Max(1, NiceCeiling(value));

    private static string Label(double value) => value switch
    {
        >= 1_000_000 => (value / 1_000_000).ToString("0.#", CultureInfo.InvariantCulture) + "M",
        >= 10_000 => (value / 1_000).ToString("0.#", CultureInfo.InvariantCulture) + "k",
        _ => value.ToString(value < 10 ? "0.##" : "0", CultureInfo.InvariantCulture),
    };

    private static string Encode(string text) => WebUtility.HtmlEncode(text);
}
