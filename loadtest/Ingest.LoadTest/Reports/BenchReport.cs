using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using Ingest.LoadTest.Bench;
using Ingest.LoadTest.Engine;
using Spectre.Console;

namespace Ingest.LoadTest.Reports;

/// <summary>
/// The <c>bench</c> report, in sections: the three-way comparison first (raw producer without
/// headers, raw producer with the gateway's record, gateway warm and cold), then the ratios and
/// checks, every round, the latency at a fixed rate, and memory; then the warm gateway's /metrics
/// histograms. Shown on the console and written
/// as Markdown, HTML (with bar charts) and JSON (the full result) under the results folder.
/// </summary>
internal static class BenchReport
{
    private static readonly JsonSerializerOptions JsonOptions = new(JsonSerializerDefaults.Web) { WriteIndented = true };

    public static string Title => $"Ingest bench, {DateTime.UtcNow:u}";

    /// <summary>The settings and the gateway's environment, above the tables.</summary>
    public static string Preamble(BenchResult r) => string.Create(CultureInfo.InvariantCulture,
        $"{r.Connections} connections, {r.Events:N0} events per measured part, batch {r.Batch}, window {r.Window}, {r.Partitions} partitions, {r.Cores} cores. Gateway environment: {r.GatewayEnvironment}.");

    public static IReadOnlyList<BenchReportSection> Render(BenchResult r)
    {
        var sections = new List<BenchReportSection>();
        if (r.Median is { } median)
        {
            sections.Add(Comparison(r, median));
            sections.Add(Ratios(r, median));
            sections.Add(Rounds(r));
        }

        if (r.RawPaced is not null || r.GatewayPaced is not null)
        {
            sections.Add(Latency(r));
        }

        sections.Add(Memory(r));
        return sections;
    }

    public static void WriteToConsole(BenchResult r)
    {
        AnsiConsole.WriteLine(Preamble(r));
        foreach (var section in Render(r))
        {
            var table = new Table { Title = new TableTitle(Markup.Escape(section.Heading)) };
            for (var i = 0; i < section.Columns.Count; i++)
            {
                var column = new TableColumn(Markup.Escape(section.Columns[i]));
                table.AddColumn(section.IsRightAligned(i) ? column.RightAligned() : column);
            }

            foreach (var row in section.Rows)
            {
                table.AddRow(row.Select(Markup.Escape).ToArray());
            }

            AnsiConsole.Write(table);
        }

        if (r.GatewayMetrics is { } metrics)
        {
            MetricsReport.WriteToConsole(metrics, Console.Out);
        }
    }

    public static string ToMarkdown(BenchResult r, string title)
    {
        var markdown = new StringBuilder()
            .AppendLine(CultureInfo.InvariantCulture, $"# {title}").AppendLine()
            .AppendLine(Preamble(r));
        foreach (var section in Render(r))
        {
            markdown.AppendLine().AppendLine(CultureInfo.InvariantCulture, $"## {section.Heading}").AppendLine()
                .AppendLine($"| {string.Join(" | ", section.Columns)} |")
                .AppendLine($"|{string.Join("|", section.Columns.Select((_, i) => section.IsRightAligned(i) ? "---:" : "---"))}|");
            foreach (var row in section.Rows)
            {
                markdown.AppendLine($"| {string.Join(" | ", row)} |");
            }
        }

        if (r.GatewayMetrics is { } metrics)
        {
            markdown.AppendLine().Append(MetricsReport.Section(metrics).Markdown);
        }

        return markdown.ToString();
    }

    public static string ToHtml(BenchResult r, string title)
    {
        static string E(string text) => WebUtility.HtmlEncode(text);
        var html = new StringBuilder()
            .AppendLine("<!doctype html>")
            .AppendLine("<html lang=\"en\"><head><meta charset=\"utf-8\">")
            .AppendLine(CultureInfo.InvariantCulture, $"<title>{E(title)}</title>")
            .AppendLine("<style>body{font:14px/1.45 system-ui,sans-serif;color:#1d2330;margin:2rem auto;max-width:72rem;padding:0 1rem}"
                + "table{border-collapse:collapse;margin:1rem 0}td,th{border-bottom:1px solid #e1e4ea;padding:.3rem .7rem;text-align:left;vertical-align:top}"
                + ".num{text-align:right;font-variant-numeric:tabular-nums}svg{display:block;margin:1.2rem 0}"
                + "svg text{font:13px system-ui,sans-serif;fill:#1d2330}svg .title{font-weight:600}svg .bar{fill:#4a6fd8}</style>")
            .AppendLine("</head><body>")
            .AppendLine(CultureInfo.InvariantCulture, $"<h1>{E(title)}</h1>")
            .AppendLine(CultureInfo.InvariantCulture, $"<p>{E(Preamble(r))}</p>");
        foreach (var section in Render(r))
        {
            html.AppendLine(CultureInfo.InvariantCulture, $"<h2>{E(section.Heading)}</h2>").Append("<table><thead><tr>");
            for (var i = 0; i < section.Columns.Count; i++)
            {
                html.Append(CultureInfo.InvariantCulture, $"<th{(section.IsRightAligned(i) ? " class=\"num\"" : "")}>{E(section.Columns[i])}</th>");
            }

            html.AppendLine("</tr></thead><tbody>");
            foreach (var row in section.Rows)
            {
                html.Append("<tr>");
                for (var i = 0; i < row.Count; i++)
                {
                    html.Append(CultureInfo.InvariantCulture, $"<td{(section.IsRightAligned(i) ? " class=\"num\"" : "")}>{E(row[i])}</td>");
                }

                html.AppendLine("</tr>");
            }

            html.AppendLine("</tbody></table>");
        }

        foreach (var chart in Charts(r))
        {
            html.AppendLine(chart.ToSvg());
        }

        if (r.GatewayMetrics is { } metrics)
        {
            html.AppendLine(MetricsReport.Section(metrics).Html);
        }

        return html.AppendLine("</body></html>").ToString();
    }

    public static IReadOnlyList<BarChart> Charts(BenchResult r)
    {
        var charts = new List<BarChart>();
        if (r.Rounds.Count > 0)
        {
            charts.Add(new("Events/s per round: (a) raw, (b) the gateway's producer alone, (c) gateway", "events/s",
                [.. r.Rounds.SelectMany(x => new[] { ($"round {x.Number} (a)", x.Raw.EventsPerSecond), ($"round {x.Number} (b)", x.RawShaped.EventsPerSecond), ($"round {x.Number} (c)", x.Gateway.EventsPerSecond) })]));
            charts.Add(new("CPU per event per round, each process alone", "us",
                [.. r.Rounds.SelectMany(x => new[] { ($"round {x.Number} (a)", x.Raw.CpuMicrosecondsPerEvent), ($"round {x.Number} (b)", x.RawShaped.CpuMicrosecondsPerEvent), ($"round {x.Number} (c)", x.Gateway.CpuMicrosecondsPerEvent) })]));
        }

        if (r.RawPaced is { } raw)
        {
            charts.Add(BarChart.Latency(string.Create(CultureInfo.InvariantCulture, $"Raw producer, delivery at {raw.Rate:N0} events/s"), raw.Latency));
        }

        if (r.GatewayPaced is { } gateway)
        {
            charts.Add(BarChart.Latency(string.Create(CultureInfo.InvariantCulture, $"Gateway, send-to-ack at {gateway.Rate:N0} events/s"), gateway.Measure.AckLatency));
        }

        return charts;
    }

    /// <summary>Writes <c>bench-&lt;UTC time&gt;.md</c>, <c>.html</c> and <c>.json</c> under <paramref name="directory"/>.</summary>
    public static async Task<ReportFiles> WriteFilesAsync(BenchResult result, string directory, CancellationToken cancellationToken)
    {
        Directory.CreateDirectory(directory);
        var stem = Path.Combine(directory, $"bench-{DateTime.UtcNow:yyyyMMdd-HHmmss}");
        var files = new ReportFiles(stem + ".md", stem + ".html", stem + ".json");
        var title = Title;
        await File.WriteAllTextAsync(files.Markdown, ToMarkdown(result, title), cancellationToken).ConfigureAwait(false);
        await File.WriteAllTextAsync(files.Html, ToHtml(result, title), cancellationToken).ConfigureAwait(false);
        await File.WriteAllTextAsync(files.Json, JsonSerializer.Serialize(result, JsonOptions), cancellationToken).ConfigureAwait(false);
        return files;
    }

    /// <summary>The table the bench exists for: per event, what each costs in its own process.</summary>
    private static BenchReportSection Comparison(BenchResult r, BenchRound m)
    {
        var rawCpu = m.Raw.CpuMicrosecondsPerEvent;
        var rawRate = m.Raw.EventsPerSecond;
        var rows = new List<IReadOnlyList<string>>
        {
            Row("(a) raw producer, key + value, no headers", m.Raw.Delivered, m.Raw.EventsPerSecond, F(m.Raw.CpuMicrosecondsPerEvent, "0.0"), rawCpu, rawRate, m.Raw.CpuMicrosecondsPerEvent),
            Row("(b) the gateway's producer alone (NativeProducer), the gateway's record (its ingest-source header)", m.RawShaped.Delivered, m.RawShaped.EventsPerSecond, F(m.RawShaped.CpuMicrosecondsPerEvent, "0.0"), rawCpu, rawRate, m.RawShaped.CpuMicrosecondsPerEvent),
            Row($"(c) gateway warm, {F(r.Connections)} connections", m.Gateway.Acked, m.Gateway.EventsPerSecond, F(m.Gateway.CpuMicrosecondsPerEvent, "0.0"), rawCpu, rawRate, m.Gateway.CpuMicrosecondsPerEvent),
        };
        if (r.Cold is { } cold)
        {
            var load = cold.Load.CpuMicrosecondsPerEvent;
            var start = cold.CpuMicrosecondsPerEventFromStart;
            rows.Add([
                $"gateway cold: first {F(cold.Load.Acked)} events of a fresh process",
                F(cold.Load.Acked),
                F(cold.Load.EventsPerSecond),
                Ratio(cold.Load.EventsPerSecond, rawRate, "P0"),
                $"{F(load, "0.0")} ({F(start, "0.0")} from process start)",
                $"{Ratio(load, rawCpu, "0.00")}x ({Ratio(start, rawCpu, "0.00")}x)",
            ]);
        }

        return new BenchReportSection(
            string.Create(CultureInfo.InvariantCulture, $"Raw producer vs gateway: round {m.Number} of {r.Rounds.Count} (median gateway/raw CPU ratio); CPU of each process alone"),
            ["", "events", "events/s", "events/s vs (a)", "CPU us/event", "CPU vs (a)"],
            rows,
            RightAlignedFrom: 1);

        static IReadOnlyList<string> Row(string label, long events, double rate, string cpu, double rawCpu, double rawRate, double cpuValue) =>
            [label, F(events), F(rate), Ratio(rate, rawRate, "P0"), cpu, Ratio(cpuValue, rawCpu, "0.00") + "x"];
    }

    private static BenchReportSection Ratios(BenchResult r, BenchRound m)
    {
        // The median round's ratio, then every round's in order.
        string All(Func<BenchRound, double> ratio, string format, string unit = "") =>
            $"{F(ratio(m), format)}{unit} (rounds: {string.Join(", ", r.Rounds.Select(x => F(ratio(x), format) + unit))})";
        var rows = new List<(string Measure, string Value, string Target)>
        {
            ("(c) gateway CPU/event over (a) raw, no headers", All(x => x.CpuRatioVsRaw, "0.00", "x"), ""),
            ("(c) gateway CPU/event over (b) its producer alone", All(x => x.CpuRatioVsShaped, "0.00", "x"), ""),
            ("(c) gateway events/s over (a)", All(x => x.RateRatioVsRaw, "P0"), ""),
            // The target of the earlier benches, whose raw producer wrote the gateway's headers.
            ("(c) gateway events/s over (b)", All(x => x.RateRatioVsShaped, "P0"), ">= 60%"),
        };
        if (r.Cold is { } cold)
        {
            rows.Add(("cold/warm events/s (first events of a fresh gateway over (c))", F(r.ColdOverWarm, "P0"), ""));
            rows.Add(("cold: process start to /readyz 200, s (gateway CPU s by then)", $"{F(cold.StartupSeconds, "0.00")} ({F(cold.StartupCpuSeconds, "0.00")})", ""));
            rows.Add(("cold: gateway CPU us/event from the load / from process start", $"{F(cold.Load.CpuMicrosecondsPerEvent, "0.0")} / {F(cold.CpuMicrosecondsPerEventFromStart, "0.0")}", ""));
            rows.Add(("cold: sent / acked / errored / landed", Counts(cold.Load), "all equal"));
        }

        rows.AddRange(
        [
            ("harness CPU us/event: clients + broker during (c) / broker during (a), (b)", $"{F(m.Gateway.HarnessCpuMicrosecondsPerEvent, "0.0")} / {F(m.Raw.BrokerCpuMicrosecondsPerEvent, "0.0")}, {F(m.RawShaped.BrokerCpuMicrosecondsPerEvent, "0.0")}", ""),
            ("(a) produced / delivered / landed", RawCounts(m.Raw), "all equal"),
            ("(b) produced / delivered / landed", RawCounts(m.RawShaped), "all equal"),
            ("(c) sent / acked / errored / landed", Counts(m.Gateway), "all equal"),
            ("(c) CPU s: gateway / harness (wall s)", $"{F(m.Gateway.CpuSeconds, "0.00")} / {F(m.Gateway.HarnessCpuSeconds, "0.00")} ({F(m.Gateway.Seconds, "0.00")})", $"{F(r.Cores)} cores"),
            ("(c) send-to-ack ms p50 / p90 / p99 / max, as fast as acked", L(m.Gateway.AckLatency), ""),
            ("(c) gateway allocated bytes per event / gen0 GCs", $"{F(m.Gateway.AllocatedBytesPerEvent ?? 0, "0")} / {F(m.Gateway.Gen0Collections ?? 0)}", ""),
            ("(c) messages per ack frame", F(m.Gateway.MessagesPerAckFrame ?? 0, "0.0"), ""),
        ]);
        if (r.GatewayEnvironmentSkipped.Count > 0)
        {
            rows.Add(("gateway environment: SKIPPED", string.Join("; ", r.GatewayEnvironmentSkipped), "none"));
        }

        return MeasureSection($"Ratios and checks (round {m.Number})", rows);
    }

    private static BenchReportSection Rounds(BenchResult r) => new(
        "Every round, in order: events/s and CPU us/event of (a) raw no headers, (b) the gateway's producer alone, (c) gateway",
        ["round", "(a) events/s", "(a) CPU us", "(b) events/s", "(b) CPU us", "(c) events/s", "(c) CPU us", "(c)/(a) CPU", "(c)/(a) events/s", "counts"],
        [.. r.Rounds.Select(x => (IReadOnlyList<string>)[
            x.Number == r.MedianRound ? $"{F(x.Number)} (median)" : F(x.Number),
            F(x.Raw.EventsPerSecond), F(x.Raw.CpuMicrosecondsPerEvent, "0.0"),
            F(x.RawShaped.EventsPerSecond), F(x.RawShaped.CpuMicrosecondsPerEvent, "0.0"),
            F(x.Gateway.EventsPerSecond), F(x.Gateway.CpuMicrosecondsPerEvent, "0.0"),
            F(x.CpuRatioVsRaw, "0.00") + "x", F(x.RateRatioVsRaw, "P0"),
            x.Passed ? "equal" : "DIFFER"])],
        RightAlignedFrom: 1);

    private static BenchReportSection Latency(BenchResult r)
    {
        var rows = new List<IReadOnlyList<string>>();
        if (r.RawPaced is { } raw)
        {
            rows.Add(["raw producer, produce to delivery report (no headers)", F(raw.Seconds == 0 ? 0 : raw.Delivered / raw.Seconds),
                F(raw.Latency.P50Ms, "0.0"), F(raw.Latency.P90Ms, "0.0"), F(raw.Latency.P99Ms, "0.0"), F(raw.Latency.MaxMs, "0.0"),
                F(raw.CpuMicrosecondsPerEvent, "0.0"), F(raw.ScheduleLag.P99Ms, "0.0")]);
        }

        var gateways = new[]
        {
            ($"gateway, send to ack ({F(r.Connections)} connections)", r.GatewayPaced),
            ($"gateway at half its maximum ({F(r.GatewayPacedHalfMax?.Rate ?? 0)} events/s), send to ack", r.GatewayPacedHalfMax),
        };
        foreach (var (label, paced) in gateways)
        {
            if (paced is not null)
            {
                var s = paced.Measure.AckLatency;
                rows.Add([label, F(paced.Measure.EventsPerSecond),
                    F(s.P50Ms, "0.0"), F(s.P90Ms, "0.0"), F(s.P99Ms, "0.0"), F(s.MaxMs, "0.0"),
                    F(paced.Measure.CpuMicrosecondsPerEvent, "0.0"), F(paced.ScheduleLag.P99Ms, "0.0")]);
            }
        }

        if (r.RawPaced is { } a && r.GatewayPaced is { } g)
        {
            var s = g.Measure.AckLatency;
            rows.Add(["gateway minus raw producer", "",
                Signed(s.P50Ms - a.Latency.P50Ms), Signed(s.P90Ms - a.Latency.P90Ms), Signed(s.P99Ms - a.Latency.P99Ms), Signed(s.MaxMs - a.Latency.MaxMs), "", ""]);
        }

        var rate = r.RawPaced?.Rate ?? r.GatewayPaced?.Rate ?? 0;
        var adds = r.GatewayAddsAtP99Ms is { } ms ? $": the gateway adds {Signed(ms)} ms at p99" : "";
        var gcShare = r.GatewayPaced is { Measure.Seconds: > 0 } fixedRate ? $"; gateway GC pauses {F(fixedRate.GcPauseMs)} ms ({F(fixedRate.GcPauseMs / (fixedRate.Measure.Seconds * 1000), "P1")} of its run)" : "";
        return new BenchReportSection(
            $"Latency at {F(rate)} events/s, ms from each event's scheduled time{adds}{gcShare}",
            ["", "events/s", "p50", "p90", "p99", "max", "CPU us/event", "schedule lag p99"],
            rows,
            RightAlignedFrom: 1);
    }

    private static BenchReportSection Memory(BenchResult r) => MeasureSection("Memory: resident set per idle connection (a fresh gateway)",
    [
        ("gateway RSS before / with idle connections, MiB", $"{F(r.RssBeforeBytes / 1048576.0, "0.0")} / {F(r.RssAfterBytes / 1048576.0, "0.0")} ({F(r.IdleConnections)} conns)", ""),
        ("RSS per idle connection, KB", F(r.BytesPerIdleConnection / 1024, "0.0"), "<= 10"),
    ]);

    private static BenchReportSection MeasureSection(string heading, IEnumerable<(string Measure, string Value, string Target)> rows) =>
        new(heading, ["Measure", "Value", "Target"], [.. rows.Select(x => (IReadOnlyList<string>)[x.Measure, x.Value, x.Target])], RightAlignedFrom: 1, RightAlignedTo: 1);

    private static string F(double value, string format = "N0") => value.ToString(format, CultureInfo.InvariantCulture);

    private static string Ratio(double value, double baseline, string format) => baseline == 0 ? "-" : F(value / baseline, format);

    private static string Signed(double ms) => (ms >= 0 ? "+" : "") + F(ms, "0.0");

    private static string L(LatencySummary s) => $"{F(s.P50Ms, "0.0")} / {F(s.P90Ms, "0.0")} / {F(s.P99Ms, "0.0")} / {F(s.MaxMs, "0.0")}";

    private static string Counts(GatewayMeasure g) => $"{F(g.Sent)} / {F(g.Acked)} / {F(g.Errored)} / {F(g.Landed)}";

    private static string RawCounts(RawMeasure m) => $"{F(m.Produced)} / {F(m.Delivered)} / {F(m.Landed)}";
}

/// <summary>One table of the bench report; columns from <paramref name="RightAlignedFrom"/> to <paramref name="RightAlignedTo"/> hold numbers.</summary>
internal sealed record BenchReportSection(
    string Heading, IReadOnlyList<string> Columns, IReadOnlyList<IReadOnlyList<string>> Rows, int RightAlignedFrom = 1, int RightAlignedTo = int.MaxValue)
{
    public bool IsRightAligned(int column) => column >= RightAlignedFrom && column <= RightAlignedTo;
}
