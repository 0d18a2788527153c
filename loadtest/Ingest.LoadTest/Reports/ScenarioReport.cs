using System.Globalization;
using Ingest.LoadTest.Engine;
using Ingest.LoadTest.Scenarios;

namespace Ingest.LoadTest.Reports;

/// <summary>Scenario reports: live progress line, final table, per-second rows, gateway metrics; Markdown, HTML, JSON and CSV files.</summary>
internal static class ScenarioReport
{
    /// <summary>Rewrites one status line on a terminal; prints nothing when stderr is redirected.</summary>
    public static void WriteProgress(ScenarioProgress p)
    {
        if (Console.IsErrorRedirected)
        {
            return;
        }

        Console.Error.Write(string.Create(CultureInfo.InvariantCulture,
            $"\r{p.Elapsed.TotalSeconds,6:0.0}s  open {p.Open,6:N0}  sent {p.Sent,9:N0} ({p.SentPerSecond,7:N0}/s)  acked {p.Acked,9:N0} ({p.AckedPerSecond,7:N0}/s)  errors {p.Errored,5:N0}  landed {p.Landed,9:N0}  reconnects {p.Reconnects,4:N0}  ack p99 {p.AckP99Ms,6:0.0} ms "));
    }

    public static IReadOnlyList<(string Measure, string Value)> Rows(ScenarioResult r)
    {
        static string F(double v, string format = "N0") => v.ToString(format, CultureInfo.InvariantCulture);
        static string L(LatencySummary s) => $"{F(s.P50Ms, "0.0")} / {F(s.P90Ms, "0.0")} / {F(s.P99Ms, "0.0")} / {F(s.MaxMs, "0.0")}";
        return
        [
            ("scenario", $"{r.Scenario} ({F(r.Clients)} clients x {F(r.EventsPerClient)} events, batch {r.Batch}), run {r.RunId}"),
            ("verification", r.Passed ? "PASSED" : "FAILED"),
            ("sent / resent", $"{F(r.Sent)} / {F(r.Resent)}"),
            ("acked / errored", $"{F(r.Acked)} / {F(r.Errored)}"),
            ("landed (distinct) / duplicated / missing (acked, not landed)", $"{F(r.Landed)} / {F(r.Duplicated)} / {F(r.Missing)}"),
            ("acked and duplicated / landed without ack", $"{F(r.DuplicatedAcked)} / {F(r.LandedUnacked)}"),
            ("reconnects / draining frames", $"{F(r.Reconnects)} / {F(r.DrainingFrames)}"),
            ("duration s / acked events/s", $"{F(r.Seconds, "0.0")} / {F(r.EventsPerSecond)}"),
            ("send-to-ack ms p50 / p90 / p99 / max", L(r.AckLatency)),
            ("send-to-landed ms p50 / p90 / p99 / max", L(r.LandedLatency)),
        ];
    }

    public static ReportTable Render(ScenarioResult result) =>
        new(["Measure", "Value"], Rows(result).Select(row => (IReadOnlyList<string>)[row.Measure, row.Value]).ToList());

    public static IReadOnlyList<BarChart> Charts(ScenarioResult result) =>
        [BarChart.Latency("Send to ack", result.AckLatency), BarChart.Latency("Send to landed in Kafka", result.LandedLatency)];

    /// <summary>After the main table: the per-second charts and rows, and the gateway's /metrics histograms (or why there are none).</summary>
    public static IReadOnlyList<ReportSection> Sections(ScenarioResult result)
    {
        var sections = new List<ReportSection> { TimelineReport.Section(result.Timeline) };
        if (result.Audit is { } audit)
        {
            sections.Add(Chaos.ChaosReport.AuditSection(audit));
        }

        if (result.GatewayMetrics is { } metrics)
        {
            sections.Add(MetricsReport.Section(metrics));
        }

        return sections;
    }

    /// <summary>The main table, then the per-second table (or sparklines) and the gateway's histograms.</summary>
    public static void WriteToConsole(ScenarioResult result, TextWriter lines)
    {
        Render(result).WriteToConsole();
        TimelineReport.WriteToConsole(result.Timeline, lines);
        if (result.Audit is { } audit)
        {
            foreach (var line in Ingest.Kafka.Audit.AuditText.Summary(audit))
            {
                lines.WriteLine(line);
            }
        }

        if (result.GatewayMetrics is { } metrics)
        {
            MetricsReport.WriteToConsole(metrics, lines);
        }
    }

    /// <summary>Markdown, HTML and JSON, the per-second rows as CSV, and the audit file (<c>-audit.json</c>).</summary>
    public static async Task<ReportFiles> WriteFilesAsync(ScenarioResult result, string directory, CancellationToken cancellationToken)
    {
        var files = await Render(result).WriteFilesAsync(
            result, directory, result.Scenario, $"Ingest load test: {result.Scenario}, {DateTime.UtcNow:u}", null, Charts(result), cancellationToken,
            Sections(result), TimelineReport.ToCsv(result.Timeline)).ConfigureAwait(false);
        if (result.AuditFile is { } audit)
        {
            await File.WriteAllTextAsync(files.Json[..^".json".Length] + "-audit.json", audit.ToJson(), cancellationToken).ConfigureAwait(false);
        }

        return files;
    }
}
