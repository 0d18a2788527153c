using System.Globalization;
using Ingest.LoadTest.Bench;

namespace Ingest.LoadTest.Reports;

/// <summary>The <c>bench</c> report: measure, value and target per row.</summary>
internal static class BenchReport
{
    public static ReportTable Render(BenchResult r)
    {
        static string F(double v, string format = "N0") => v.ToString(format, CultureInfo.InvariantCulture);
        static string L(Engine.LatencySummary? s) => s is null ? "-" : $"{F(s.P50Ms, "0.0")} / {F(s.P90Ms, "0.0")} / {F(s.P99Ms, "0.0")} / {F(s.MaxMs, "0.0")}";
        var rows = new List<(string Measure, string Value, string Target)>
        {
            ("(a) raw producer, events/s", F(r.RawEventsPerSecond), ""),
            ("(a) delivered / landed (watermarks)", $"{F(r.RawDelivered)} / {F(r.RawLanded)}", $"= {F(r.Events)}"),
            ("(b) gateway end to end, events/s", F(r.GatewayEventsPerSecond), ""),
            ("(b) ratio gateway / raw (median round)", F(r.Ratio, "P0"), ">= 60%"),
            ("rounds: raw / gateway events/s (ratio)", string.Join("; ", r.Rounds.Select(x => $"{F(x.RawEventsPerSecond)} / {F(x.GatewayEventsPerSecond)} ({F(x.Ratio, "P0")})")), ""),
            ("(b) sent / acked / errored / landed", $"{F(r.GatewaySent)} / {F(r.GatewayAcked)} / {F(r.GatewayErrored)} / {F(r.GatewayLanded)}", "all equal"),
            ("(b) send-to-ack ms p50 / p90 / p99 / max", L(r.FullSpeedAckLatency), ""),
            ("(b) CPU s: gateway / harness+broker (wall s)", $"{F(r.GatewayCpuSeconds, "0.0")} / {F(r.HarnessCpuSeconds, "0.0")} ({F(r.GatewaySeconds, "0.0")})", $"{Environment.ProcessorCount} cores"),
            ("CPU us per event: raw producer+broker / gateway / harness+broker", $"{F(r.RawCpuMicrosecondsPerEvent, "0.0")} / {F(r.GatewayCpuMicrosecondsPerEvent, "0.0")} / {F(r.HarnessCpuMicrosecondsPerEvent, "0.0")}", ""),
            ("(b) gateway allocated bytes per event / gen0 GCs", $"{F(r.GatewayAllocatedBytesPerEvent, "0")} / {F(r.GatewayGen0Collections)}", ""),
            ("(b) messages per ack frame", F(r.MessagesPerAckFrame, "0.0"), ""),
            ("(b) paced at half max: target / achieved events/s", $"{F(r.PacedTargetEventsPerSecond)} / {F(r.PacedEventsPerSecond)}", ""),
            ("(b) paced send-to-ack ms p50 / p90 / p99 / max", L(r.PacedAckLatency), "p99 < 20"),
            ("(b) paced: gateway GC pauses ms (share of the run)", $"{F(r.PacedGcPauseMs)} ({F(r.PacedSeconds == 0 ? 0 : r.PacedGcPauseMs / (r.PacedSeconds * 1000), "P1")})", ""),
            ("(b) paced harness schedule lag ms p50 / p90 / p99 / max", L(r.PacedScheduleLag), ""),
            ("(c) gateway RSS before / with idle connections, MiB", $"{F(r.RssBeforeBytes / 1048576.0, "0.0")} / {F(r.RssAfterBytes / 1048576.0, "0.0")} ({F(r.IdleConnections)} conns)", ""),
            ("(c) RSS per idle connection, KB", F(r.BytesPerIdleConnection / 1024, "0.0"), "< 20"),
        };
        return new ReportTable(["Measure", "Value", "Target"], rows.Select(row => (IReadOnlyList<string>)[row.Measure, row.Value, row.Target]).ToList());
    }

    public static IReadOnlyList<BarChart> Charts(BenchResult r)
    {
        var charts = new List<BarChart>
        {
            new("Events/s per round: raw producer (a) and gateway (b)", "events/s", [.. r.Rounds.SelectMany((x, i) => new[] { ($"round {i + 1} raw", x.RawEventsPerSecond), ($"round {i + 1} gateway", x.GatewayEventsPerSecond) })]),
        };
        if (r.FullSpeedAckLatency is { } full)
        {
            charts.Add(BarChart.Latency("Send-to-ack at full speed (median round)", full));
        }

        if (r.PacedAckLatency is { } paced)
        {
            charts.Add(BarChart.Latency("Send-to-ack paced at half the maximum", paced));
        }

        return charts;
    }

    public static Task<ReportFiles> WriteFilesAsync(BenchResult result, string directory, CancellationToken cancellationToken) =>
        Render(result).WriteFilesAsync(
            result,
            directory,
            "bench",
            $"Ingest bench, {DateTime.UtcNow:u}",
            string.Create(CultureInfo.InvariantCulture, $"{result.Connections} connections, {result.Events:N0} events, batch {result.Batch}, window {result.Window}, {result.Partitions} partitions, {Environment.ProcessorCount} cores."),
            Charts(result),
            cancellationToken);
}
