using System.Globalization;
using System.Text;
using System.Text.Json;
using Ingest.LoadTest.Bench;
using Spectre.Console;

namespace Ingest.LoadTest.Reports;

/// <summary>The <c>bench</c> report: a console table, and the same rows as Markdown and JSON.</summary>
internal sealed class BenchReport(IReadOnlyList<(string Measure, string Value, string Target)> rows)
{
    private static readonly JsonSerializerOptions JsonOptions = new(JsonSerializerDefaults.Web) { WriteIndented = true };

    public IReadOnlyList<(string Measure, string Value, string Target)> Rows { get; } = rows;

    public static BenchReport Render(BenchResult r)
    {
        static string F(double v, string format = "N0") => v.ToString(format, CultureInfo.InvariantCulture);
        static string L(Engine.LatencySummary? s) => s is null ? "-" : $"{F(s.P50Ms, "0.0")} / {F(s.P90Ms, "0.0")} / {F(s.P99Ms, "0.0")} / {F(s.MaxMs, "0.0")}";
        var rows = new List<(string, string, string)>
        {
            ("(a) raw producer, events/s", F(r.RawEventsPerSecond), ""),
            ("(a) delivered / landed (watermarks)", $"{F(r.RawDelivered)} / {F(r.RawLanded)}", $"= {F(r.Events)}"),
            ("(b) gateway end to end, events/s", F(r.GatewayEventsPerSecond), ""),
            ("(b) ratio gateway / raw", F(r.Ratio, "P0"), ">= 60%"),
            ("(b) sent / acked / errored / landed", $"{F(r.GatewaySent)} / {F(r.GatewayAcked)} / {F(r.GatewayErrored)} / {F(r.GatewayLanded)}", "all equal"),
            ("(b) send-to-ack ms p50 / p90 / p99 / max", L(r.FullSpeedAckLatency), ""),
            ("(b) CPU s: gateway / harness+broker (wall s)", $"{F(r.GatewayCpuSeconds, "0.0")} / {F(r.HarnessCpuSeconds, "0.0")} ({F(r.GatewaySeconds, "0.0")})", $"{Environment.ProcessorCount} cores"),
            ("CPU us per event: raw producer+broker / gateway / harness+broker", $"{F(r.RawCpuMicrosecondsPerEvent, "0.0")} / {F(r.GatewayCpuMicrosecondsPerEvent, "0.0")} / {F(r.HarnessCpuMicrosecondsPerEvent, "0.0")}", ""),
            ("(b) gateway allocated bytes per event / gen0 GCs", $"{F(r.GatewayAllocatedBytesPerEvent, "0")} / {F(r.GatewayGen0Collections)}", ""),
            ("(b) messages per ack frame", F(r.MessagesPerAckFrame, "0.0"), ""),
            ("(b) paced at half max: target / achieved events/s", $"{F(r.PacedTargetEventsPerSecond)} / {F(r.PacedEventsPerSecond)}", ""),
            ("(b) paced send-to-ack ms p50 / p90 / p99 / max", L(r.PacedAckLatency), "p99 < 20"),
            ("(b) paced harness schedule lag ms p50 / p90 / p99 / max", L(r.PacedScheduleLag), ""),
            ("(c) gateway RSS before / with idle connections, MiB", $"{F(r.RssBeforeBytes / 1048576.0, "0.0")} / {F(r.RssAfterBytes / 1048576.0, "0.0")} ({F(r.IdleConnections)} conns)", ""),
            ("(c) RSS per idle connection, KB", F(r.BytesPerIdleConnection / 1024, "0.0"), "< 20"),
        };
        return new BenchReport(rows);
    }

    public void WriteTable()
    {
        var table = new Table().AddColumn("Measure").AddColumn(new TableColumn("Value").RightAligned()).AddColumn("Target");
        foreach (var (measure, value, target) in Rows)
        {
            table.AddRow(Markup.Escape(measure), Markup.Escape(value), Markup.Escape(target));
        }

        AnsiConsole.Write(table);
    }

    public static async Task<(string Markdown, string Json)> WriteFilesAsync(BenchResult result, string directory, CancellationToken cancellationToken)
    {
        Directory.CreateDirectory(directory);
        var name = $"bench-{DateTime.UtcNow:yyyyMMdd-HHmmss}";
        var markdownPath = Path.Combine(directory, name + ".md");
        var jsonPath = Path.Combine(directory, name + ".json");
        var markdown = new StringBuilder()
            .AppendLine(CultureInfo.InvariantCulture, $"# Ingest bench, {DateTime.UtcNow:u}")
            .AppendLine()
            .AppendLine(CultureInfo.InvariantCulture, $"{result.Connections} connections, {result.Events:N0} events, batch {result.Batch}, window {result.Window}, {result.Partitions} partitions, {Environment.ProcessorCount} cores.")
            .AppendLine()
            .AppendLine("| Measure | Value | Target |")
            .AppendLine("|---|---:|---|");
        foreach (var (measure, value, target) in Render(result).Rows)
        {
            markdown.AppendLine(CultureInfo.InvariantCulture, $"| {measure} | {value} | {target} |");
        }

        await File.WriteAllTextAsync(markdownPath, markdown.ToString(), cancellationToken).ConfigureAwait(false);
        await File.WriteAllTextAsync(jsonPath, JsonSerializer.Serialize(result, JsonOptions), cancellationToken).ConfigureAwait(false);
        return (markdownPath, jsonPath);
    }
}
