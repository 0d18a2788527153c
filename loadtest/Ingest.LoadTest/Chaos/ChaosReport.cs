using System.Globalization;
using System.Net;
using System.Text;
using Ingest.Kafka.Audit;
using Ingest.LoadTest.Reports;

namespace Ingest.LoadTest.Chaos;

/// <summary>The files of a chaos or endurance run: the report's, the resource samples (CSV) and the audit file.</summary>
internal sealed record ChaosFiles(ReportFiles Report, string Resources, string Audit)
{
    public override string ToString() => $"{Report}, {Resources}, {Audit}";
}

/// <summary>
/// The report of a <c>chaos</c> or <c>endurance</c> run, in the scenario report's style: the main
/// table, then the faults with their guarantees and checks, the run's checks, the delivery audit,
/// the gateway's resources every few seconds (charts, table, trend check) and the run per second.
/// </summary>
internal static class ChaosReport
{
    private static readonly string[] PhaseColumns = ["fault", "window s", "guarantee", "observed", "checks", "result"];
    private static readonly string[] CheckColumns = ["check", "result", "detail"];
    private static readonly string[] ResourceColumns = ["s", "pid", "RSS MiB", "GC heap MiB", "gen0", "gen1", "gen2", "threads", "descriptors"];
    private static readonly string[] TrendColumns = ["series", "verdict", "first third", "last third", "slope per hour", "note"];

    private static string F(double value, string format = "N0") => value.ToString(format, CultureInfo.InvariantCulture);

    private static string Mib(double? bytes) => bytes is { } b ? F(b / 1048576.0, "N1") : "-";

    public static IReadOnlyList<(string Measure, string Value)> Rows(ChaosResult r)
    {
        var t = r.Audit.Totals;
        var first = r.Resources.Count > 0 ? r.Resources[0] : null;
        var last = r.Resources.Count > 0 ? r.Resources[^1] : null;
        var gc = last is null ? "-" : $"{F(last.Gen0Collections ?? 0)} / {F(last.Gen1Collections ?? 0)} / {F(last.Gen2Collections ?? 0)}";
        var rows = new List<(string, string)>
        {
            (r.Command, $"run {r.RunId}, topic {r.Topic} ({r.Partitions} partitions on {r.Brokers} brokers), {r.Clients} clients"),
            ("result", r.Passed ? "PASSED" : "FAILED"),
            ("rate, events/s", r.MeasuredMaximum is { } max ? $"{F(r.Rate)} (half of the measured maximum {F(max)})" : F(r.Rate)),
            ("duration s / delivery timeout ms", $"{F(r.Seconds, "0.0")} / {F(r.DeliveryTimeoutMs)}"),
            ("faults", r.Phases.Count == 0 ? "none" : string.Join(", ", r.Phases.Select(p => $"{p.Fault} {(p.Passed ? "passed" : "FAILED")}"))),
            ("sent / resent (reconnects and delivery_failed)", $"{F(r.Sent)} / {F(r.Resent)}"),
            ("acked / delivery_failed frames / rejected, never acked", $"{F(r.Acked)} / {F(r.DeliveryFailedFrames)} / {F(t.Rejected)}"),
            ("events (distinct) / landed / missing acked", $"{F(t.Sent)} / {F(t.Landed)} / {F(t.MissingAcked)}"),
            ("duplicates: of resent events / of events sent once / unexplained", $"{F(t.DuplicatesOfResent)} / {F(t.DuplicatesOfSentOnce)} / {F(r.UnexplainedDuplicates)}"),
            ("reconnects / gateway restarts (by the harness / by itself)", $"{F(r.Reconnects)} / {r.GatewayExits.Count(e => e.KilledByHarness)} / {r.GatewayExits.Count(e => !e.KilledByHarness)}"),
            ("send-to-ack ms p50 / p90 / p99 / max (from each message's schedule)", $"{F(r.AckLatency.P50Ms, "0.0")} / {F(r.AckLatency.P90Ms, "0.0")} / {F(r.AckLatency.P99Ms, "0.0")} / {F(r.AckLatency.MaxMs, "0.0")}"),
            ("gateway RSS MiB start / end", first is null ? "-" : $"{Mib(first.RssBytes)} / {Mib(last!.RssBytes)}"),
            ("gateway GC heap MiB start / end", first is null ? "-" : $"{Mib(first.GcHeapBytes)} / {Mib(last!.GcHeapBytes)}"),
            ("gateway GC collections gen0 / gen1 / gen2 (end)", gc),
            ("gateway threads / descriptors start / end", first is null ? "-" : $"{first.Threads} / {first.Descriptors} -> {last!.Threads} / {last.Descriptors}"),
        };
        if (r.Trends.Count > 0)
        {
            rows.Add(("trend check", string.Join(", ", r.Trends.Select(v => $"{v.Series} {v.Verdict}"))));
        }

        return rows;
    }

    public static ReportTable Render(ChaosResult result) =>
        new(["Measure", "Value"], Rows(result).Select(row => (IReadOnlyList<string>)[row.Measure, row.Value]).ToList());

    private static List<IReadOnlyList<string>> PhaseRows(ChaosResult r) =>
        r.Phases.Select(p => (IReadOnlyList<string>)
        [
            p.Fault,
            $"{F(p.StartSeconds, "0.0")}-{F(p.RecoveredSeconds, "0.0")} (ready {(p.ReadySeconds is { } ready ? F(ready, "0.0") : "never")}, acks {(p.AcksResumedSeconds is { } acks ? F(acks, "0.0") : "never")})",
            p.Guarantee,
            $"{p.Observed}; acked during the fault {F(p.AckedDuringFault)}, after {F(p.AckedAfterFault)}; delivery_failed {F(p.DeliveryFailedFrames)}; reconnects {F(p.Reconnects)}; duplicates {F(p.DuplicatesOfResent)} of resent, {F(p.DuplicatesOfSentOnce)} of sent once",
            string.Join("; ", p.Checks.Select(c => $"{(c.Passed ? "ok" : "FAILED")}: {c.What} ({c.Detail})")),
            p.Passed ? "PASSED" : "FAILED",
        ]).ToList();

    private static List<IReadOnlyList<string>> CheckRows(ChaosResult r) =>
        r.Checks.Select(c => (IReadOnlyList<string>)[c.What, c.Passed ? "PASSED" : "FAILED", c.Detail]).ToList();

    private static List<IReadOnlyList<string>> ResourceRows(IReadOnlyList<ResourceSample> samples) =>
        samples.Select(s => (IReadOnlyList<string>)
        [
            F(s.ElapsedSeconds, "0"), s.ProcessId.ToString(CultureInfo.InvariantCulture), Mib(s.RssBytes), Mib(s.GcHeapBytes),
            s.Gen0Collections is { } g0 ? F(g0) : "-", s.Gen1Collections is { } g1 ? F(g1) : "-", s.Gen2Collections is { } g2 ? F(g2) : "-",
            F(s.Threads), F(s.Descriptors),
        ]).ToList();

    private static List<IReadOnlyList<string>> TrendRows(IReadOnlyList<TrendVerdict> trends) =>
        trends.Select(v => (IReadOnlyList<string>)
        [
            v.Series, v.Verdict, v.FirstThird is { } a ? F(a, "0.##") : "-", v.LastThird is { } b ? F(b, "0.##") : "-", v.SlopePerHour is { } s ? F(s, "0.##") : "-", v.Note,
        ]).ToList();

    internal static IReadOnlyList<LineChart> ResourceCharts(IReadOnlyList<ResourceSample> samples)
    {
        var x = samples.Select(s => s.ElapsedSeconds).ToList();
        var rates = new List<(double? G0, double? G1, double? G2)> { (null, null, null) };
        for (var i = 1; i < samples.Count; i++)
        {
            var (a, b) = (samples[i - 1], samples[i]);
            var minutes = (b.ElapsedSeconds - a.ElapsedSeconds) / 60;
            double? Rate(double? before, double? after) => a.ProcessId == b.ProcessId && before is { } p && after is { } q && minutes > 0 ? (q - p) / minutes : null;
            rates.Add((Rate(a.Gen0Collections, b.Gen0Collections), Rate(a.Gen1Collections, b.Gen1Collections), Rate(a.Gen2Collections, b.Gen2Collections)));
        }

        return
        [
            new LineChart("Gateway memory", "MiB", x,
            [
                new LineSeries("RSS", "#4a6fd8", samples.Select(s => (double?)(s.RssBytes / 1048576.0)).ToList()),
                new LineSeries("GC heap", "#16794c", samples.Select(s => s.GcHeapBytes / 1048576.0).ToList()),
            ]),
            new LineChart("Gateway threads and open descriptors", "count", x,
            [
                new LineSeries("threads", "#9a5b13", samples.Select(s => s.Threads < 0 ? null : (double?)s.Threads).ToList()),
                new LineSeries("descriptors", "#7a3fb0", samples.Select(s => s.Descriptors < 0 ? null : (double?)s.Descriptors).ToList()),
            ]),
            new LineChart("Gateway GC collections per minute", "/min", x,
            [
                new LineSeries("gen0", "#9aa8c7", rates.Select(r => r.G0).ToList()),
                new LineSeries("gen1", "#4a6fd8", rates.Select(r => r.G1).ToList()),
                new LineSeries("gen2", "#b00020", rates.Select(r => r.G2).ToList()),
            ]),
        ];
    }

    public static IReadOnlyList<ReportSection> Sections(ChaosResult r)
    {
        var sections = new List<ReportSection>();
        static bool Right(int i) => false;
        if (r.Phases.Count > 0)
        {
            sections.Add(Section("Faults", "Each fault of the schedule, the guarantee it tests, what happened and its checks. Windows are seconds from the start of the run.", PhaseColumns, PhaseRows(r), Right));
        }

        sections.Add(Section("Checks", "The run's guarantees, checked by counting in Kafka (the delivery audit below). Exit code 0 only when these and every fault's checks passed.", CheckColumns, CheckRows(r), Right));
        sections.Add(AuditSection(r.Audit));
        var resources = Section(
            "Gateway resources",
            "Sampled every few seconds: RSS (VmRSS) and threads from /proc/<pid>/status, open descriptors from /proc/<pid>/fd, the GC heap after the last collection (dotnet_gc_last_collection_heap_size_bytes, all generations) and the collections per generation (dotnet_gc_collections_total, cumulative since the process started) from /metrics. The CSV file has every sample.",
            ResourceColumns, ResourceRows(r.Resources), static i => i > 0, ResourceCharts(r.Resources), fold: true);
        sections.Add(resources);
        sections.Add(Section(
            "Trend check",
            "Per series: the mean of the last third of the samples after a warm-up (the first tenth of the run) against the mean of the first third; GROWS when the difference is above both tolerances. The collection counters are cumulative, so their rate per minute is checked instead. The least-squares slope is shown for reading.",
            TrendColumns, TrendRows(r.Trends), static i => i is 2 or 3 or 4));
        sections.Add(TimelineReport.Section(r.Timeline));
        return sections;
    }

    /// <summary>The delivery audit as a report section: its summary lines, the clients with a difference, every partition.</summary>
    internal static ReportSection AuditSection(AuditResult audit)
    {
        var summary = AuditText.Summary(audit);
        var markdown = new StringBuilder("## Delivery audit\n\n");
        foreach (var line in summary)
        {
            markdown.AppendLine(line.Trim()).AppendLine();
        }

        markdown.AppendLine("Per clientId (those with a difference):").AppendLine()
            .Append(ReportTable.MarkdownTable(AuditText.ClientColumns, AuditText.ClientRows(audit), i => i > 0)).AppendLine()
            .AppendLine("Per partition:").AppendLine()
            .Append(ReportTable.MarkdownTable(AuditText.PartitionColumns, AuditText.PartitionRows(audit), i => i > 0));
        var html = new StringBuilder("<h2>Delivery audit</h2>\n");
        foreach (var line in summary)
        {
            html.AppendLine(CultureInfo.InvariantCulture, $"<p>{WebUtility.HtmlEncode(line.Trim())}</p>");
        }

        html.AppendLine("<p>Per clientId (those with a difference):</p>")
            .Append(ReportTable.HtmlTable(AuditText.ClientColumns, AuditText.ClientRows(audit), i => i > 0))
            .AppendLine(CultureInfo.InvariantCulture, $"<details><summary>Per partition ({audit.Partitions.Count})</summary>")
            .Append(ReportTable.HtmlTable(AuditText.PartitionColumns, AuditText.PartitionRows(audit), i => i > 0))
            .AppendLine("</details>");
        return new ReportSection(markdown.ToString(), html.ToString());
    }

    private static ReportSection Section(string heading, string note, IReadOnlyList<string> columns, List<IReadOnlyList<string>> rows, Func<int, bool> right, IReadOnlyList<LineChart>? charts = null, bool fold = false)
    {
        var markdown = new StringBuilder()
            .AppendLine(CultureInfo.InvariantCulture, $"## {heading}").AppendLine().AppendLine(note).AppendLine()
            .Append(ReportTable.MarkdownTable(columns, rows, right));
        var html = new StringBuilder()
            .AppendLine(CultureInfo.InvariantCulture, $"<h2>{WebUtility.HtmlEncode(heading)}</h2>")
            .AppendLine(CultureInfo.InvariantCulture, $"<p>{WebUtility.HtmlEncode(note)}</p>");
        foreach (var chart in charts ?? [])
        {
            html.AppendLine(chart.ToSvg());
        }

        if (fold)
        {
            html.AppendLine(CultureInfo.InvariantCulture, $"<details><summary>{rows.Count} rows</summary>");
        }

        html.Append(ReportTable.HtmlTable(columns, rows, right));
        if (fold)
        {
            html.AppendLine("</details>");
        }

        return new ReportSection(markdown.ToString(), html.ToString());
    }

    /// <summary>The main table, the faults and checks, the audit, the trend check, and the per-second sparklines (or rows).</summary>
    public static void WriteToConsole(ChaosResult r, TextWriter lines)
    {
        Render(r).WriteToConsole();
        foreach (var p in r.Phases)
        {
            lines.WriteLine($"fault {p.Fault} ({F(p.StartSeconds, "0.0")}-{F(p.RecoveredSeconds, "0.0")} s, /readyz 200 at {(p.ReadySeconds is { } ready ? F(ready, "0.0") : "-")} s, acks resumed at {(p.AcksResumedSeconds is { } acks ? F(acks, "0.0") : "-")} s): {(p.Passed ? "PASSED" : "FAILED")}");
            lines.WriteLine($"  guarantee: {p.Guarantee}");
            lines.WriteLine($"  observed:  {p.Observed}; acked during {F(p.AckedDuringFault)}, after {F(p.AckedAfterFault)}; delivery_failed {F(p.DeliveryFailedFrames)}; reconnects {F(p.Reconnects)}; duplicates {F(p.DuplicatesOfResent)} of resent, {F(p.DuplicatesOfSentOnce)} of sent once");
            foreach (var c in p.Checks)
            {
                lines.WriteLine($"  {(c.Passed ? "ok    " : "FAILED")} {c.What}: {c.Detail}");
            }
        }

        lines.WriteLine("checks:");
        foreach (var c in r.Checks)
        {
            lines.WriteLine($"  {(c.Passed ? "ok    " : "FAILED")} {c.What}: {c.Detail}");
        }

        AuditText.Write(lines, r.Audit);
        if (r.Trends.Count > 0)
        {
            lines.WriteLine($"trend check over {r.Resources.Count} samples (last third vs first third after a warm-up of a tenth):");
            foreach (var v in r.Trends)
            {
                lines.WriteLine($"  {v.Series,-28} {v.Verdict,-5} {(v.FirstThird is { } a ? F(a, "0.##") : "-"),10} -> {(v.LastThird is { } b ? F(b, "0.##") : "-"),-10} {v.Unit,-4} slope {(v.SlopePerHour is { } s ? F(s, "0.##") : "-")}/h; {v.Note}");
            }
        }

        TimelineReport.WriteToConsole(r.Timeline, lines);
    }

    public static async Task<ChaosFiles> WriteFilesAsync(ChaosResult result, DeliveryAuditFile audit, string directory, CancellationToken cancellationToken)
    {
        var report = await Render(result).WriteFilesAsync(
            result, directory, result.Command, $"Ingest {result.Command}: {result.Topic}, {DateTime.UtcNow:u}", null, [BarChart.Latency("Send to ack", result.AckLatency)], cancellationToken,
            Sections(result), TimelineReport.ToCsv(result.Timeline)).ConfigureAwait(false);
        var stem = report.Json[..^".json".Length];
        var files = new ChaosFiles(report, stem + "-resources.csv", stem + "-audit.json");
        await File.WriteAllTextAsync(files.Resources, ResourceSampler.ToCsv(result.Resources), cancellationToken).ConfigureAwait(false);
        await File.WriteAllTextAsync(files.Audit, audit.ToJson(), cancellationToken).ConfigureAwait(false);
        return files;
    }
}
