using System.Globalization;
using System.Net;
using System.Text;
using Ingest.LoadTest.Engine;

namespace Ingest.LoadTest.Reports;

/// <summary>
/// The per-second rows of a run (<see cref="Timeline"/>) in every report form: two line charts for
/// the HTML (events/s sent and acked; send-to-ack p50 and p99), a table for the Markdown and the
/// console, and CSV.
/// </summary>
internal static class TimelineReport
{
    /// <summary>Runs up to this many seconds get the full table on the console; longer ones sparklines.</summary>
    internal const int ConsoleRows = 60;

    /// <summary>Sparkline width on the console, in characters.</summary>
    internal const int SparklineWidth = 60;

    private const string SentColour = "#9aa8c7", AckedColour = "#4a6fd8", P50Colour = "#16794c", P99Colour = "#b00020";

    private static readonly string[] Columns = ["s", "sent/s", "acked/s", "acks", "ack p50 ms", "ack p99 ms", "ack max ms", "open", "errors"];

    public static IReadOnlyList<LineChart> Charts(IReadOnlyList<TimelineSecond> seconds)
    {
        var x = seconds.Select(s => s.ElapsedSeconds).ToList();
        return
        [
            new LineChart("Events per second", "events/s", x,
            [
                new LineSeries("sent", SentColour, seconds.Select(s => (double?)s.SentPerSecond).ToList()),
                new LineSeries("acked", AckedColour, seconds.Select(s => (double?)s.AckedPerSecond).ToList()),
            ]),
            new LineChart("Send to ack, per second", "ms", x,
            [
                new LineSeries("p50", P50Colour, seconds.Select(s => s.AckP50Ms).ToList()),
                new LineSeries("p99", P99Colour, seconds.Select(s => s.AckP99Ms).ToList()),
            ]),
        ];
    }

    /// <summary>One row per second, formatted; a second without acks shows "-" for its latencies.</summary>
    public static IReadOnlyList<IReadOnlyList<string>> Rows(IReadOnlyList<TimelineSecond> seconds) =>
        seconds.Select(s => (IReadOnlyList<string>)
        [
            F(s.Second), F(s.SentPerSecond), F(s.AckedPerSecond), F(s.Acks), Ms(s.AckP50Ms), Ms(s.AckP99Ms), Ms(s.AckMaxMs), F(s.ConnectionsOpen), F(s.Errored),
        ]).ToList();

    /// <summary>The charts and the table (folded in the HTML), after the report's main table.</summary>
    public static ReportSection Section(IReadOnlyList<TimelineSecond> seconds)
    {
        const string Heading = "Per second";
        const string Note = "Events sent (resends included) and acked in each second of the run, and the send-to-ack percentiles of the messages acked in that second (an HdrHistogram interval histogram per second).";
        var markdown = new StringBuilder()
            .AppendLine(CultureInfo.InvariantCulture, $"## {Heading}")
            .AppendLine()
            .AppendLine(Note)
            .AppendLine()
            .Append(ReportTable.MarkdownTable(Columns, Rows(seconds), i => true));
        var html = new StringBuilder()
            .AppendLine(CultureInfo.InvariantCulture, $"<h2>{Heading}</h2>")
            .AppendLine(CultureInfo.InvariantCulture, $"<p>{WebUtility.HtmlEncode(Note)}</p>");
        foreach (var chart in Charts(seconds))
        {
            html.AppendLine(chart.ToSvg());
        }

        html.AppendLine(CultureInfo.InvariantCulture, $"<details><summary>{seconds.Count} rows</summary>")
            .Append(ReportTable.HtmlTable(Columns, Rows(seconds), i => true))
            .AppendLine("</details>");
        return new ReportSection(markdown.ToString(), html.ToString());
    }

    /// <summary>The rows as CSV with a header, numbers unformatted (invariant culture), empty where a second had no acks.</summary>
    public static string ToCsv(IReadOnlyList<TimelineSecond> seconds)
    {
        static string N(double? value) => value is { } v ? v.ToString("R", CultureInfo.InvariantCulture) : "";
        var csv = new StringBuilder("second,elapsed_s,sent_per_s,acked_per_s,acks,ack_p50_ms,ack_p99_ms,ack_max_ms,connections_open,errored\n");
        foreach (var s in seconds)
        {
            csv.Append(CultureInfo.InvariantCulture, $"{s.Second},{N(s.ElapsedSeconds)},{N(s.SentPerSecond)},{N(s.AckedPerSecond)},{s.Acks},{N(s.AckP50Ms)},{N(s.AckP99Ms)},{N(s.AckMaxMs)},{s.ConnectionsOpen},{s.Errored}\n");
        }

        return csv.ToString();
    }

    /// <summary>
    /// What the console shows: the table when the run has at most <see cref="ConsoleRows"/> seconds,
    /// else sparklines of acked/s and of the p99 (each character the largest value of its seconds).
    /// </summary>
    public static void WriteToConsole(IReadOnlyList<TimelineSecond> seconds, TextWriter sparklinesTo)
    {
        if (seconds.Count == 0)
        {
            return;
        }

        if (seconds.Count <= ConsoleRows)
        {
            new ReportTable(Columns, Rows(seconds), static _ => true).WriteToConsole();
            return;
        }

        foreach (var line in Sparklines(seconds))
        {
            sparklinesTo.WriteLine(line);
        }
    }

    /// <summary>Three lines: sent/s, acked/s and ack p99 over the run, with their ranges.</summary>
    public static IReadOnlyList<string> Sparklines(IReadOnlyList<TimelineSecond> seconds)
    {
        string Line(string name, Func<TimelineSecond, double?> value, string unit)
        {
            var values = seconds.Select(value).ToList();
            var known = values.Where(v => v is not null).Select(v => v!.Value).ToList();
            var max = known.Count == 0 ? 0 : known.Max();
            return $"{name,-10} {Sparkline(values, SparklineWidth)}  max {F(max)} {unit}";
        }

        return
        [
            $"per second over {F(seconds[^1].ElapsedSeconds)} s, each character the largest value of ~{F(Math.Ceiling(seconds.Count / (double)SparklineWidth))} s (rows in the report files):",
            Line("sent/s", s => s.SentPerSecond, "events/s"),
            Line("acked/s", s => s.AckedPerSecond, "events/s"),
            Line("ack p99", s => s.AckP99Ms, "ms"),
        ];
    }

    /// <summary>
    /// <paramref name="values"/> in at most <paramref name="width"/> characters of ▁▂▃▄▅▆▇█ (each the
    /// largest value of its group, scaled from 0 to the largest of all), a space where a group has none.
    /// </summary>
    internal static string Sparkline(IReadOnlyList<double?> values, int width)
    {
        const string Blocks = "▁▂▃▄▅▆▇█";
        if (values.Count == 0)
        {
            return "";
        }

        var per = (int)Math.Ceiling(values.Count / (double)width);
        var groups = values.Chunk(per).Select(g => g.Where(v => v is not null).Select(v => v!.Value).DefaultIfEmpty(double.NaN).Max()).ToList();
        var max = groups.Where(double.IsFinite).DefaultIfEmpty(0).Max();
        var line = new StringBuilder(groups.Count);
        foreach (var group in groups)
        {
            line.Append(!double.IsFinite(group) ? ' ' : max <= 0 ? Blocks[0] : Blocks[(int)Math.Round(group / max * (Blocks.Length - 1))]);
        }

        return line.ToString();
    }

    private static string F(double value) => value.ToString(value is > 0 and < 10 && value % 1 != 0 ? "N1" : "N0", CultureInfo.InvariantCulture);

    private static string Ms(double? value) => value is { } v ? v.ToString(v < 100 ? "0.0" : "N0", CultureInfo.InvariantCulture) : "-";
}
