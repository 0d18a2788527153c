using System.Text.Json;
using Ingest.Contracts;
using Ingest.Gateway.Diagnostics;
using Ingest.Testing;

namespace Ingest.IntegrationTests.Observability;

/// <summary>
/// OTLP export through the standard variables only, to a receiver on loopback: metrics and spans
/// arrive from a running gateway, and the <c>traceparent</c> header of a record read from Kafka
/// names a span that arrived. Without a trace exporter nothing listens and no record carries one.
/// </summary>
[Collection(TelemetryCollection.Name)]
public sealed class OtlpExportTests
{
    private static readonly TimeSpan ArrivalTimeout = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task MetricsAndSpansArrive_AndARecordsTraceParentIsTheSpanOfItsConnection()
    {
        await using var receiver = await OtlpReceiver.StartAsync();
        await using var gateway = await TestGateway.StartAsync(Otlp(receiver));
        await using var traced = await SseClient.ConnectAsync(gateway.HttpUri, "/stream?trace=1");
        await using var plain = await SseClient.ConnectAsync(gateway.HttpUri);
        await traced.WaitForReadyAsync();
        await plain.WaitForReadyAsync();

        await using (var client = await TestClient.ConnectAsync(gateway.WebSocketUri))
        {
            await client.SendAndWaitAckAsync("[" + Event(1) + "," + Event(2) + "]");
            await client.SendAndWaitAckAsync(Event(3));
            await client.CloseAsync();
        }

        // Every record of the connection carries the traceparent of its one connection activity.
        var records = TopicReader.ReadAll(gateway.Kafka.BootstrapServers, gateway.Topic, 3);
        var traceParent = Assert.Single(records.Select(r => r.Headers[IngestHeaders.TraceParent]).Distinct());
        var (traceId, spanId) = ParseTraceParent(traceParent);

        // The connection's span arrives once it has ended, as the child of ASP.NET Core's request span for the handshake.
        await Poll.UntilAsync(() => receiver.Spans.Any(s => s.SpanId == spanId), $"the span {spanId} of the record's traceparent", ArrivalTimeout, () => Describe(receiver.Spans));
        var connection = receiver.Spans.Single(s => s.SpanId == spanId);
        Assert.Equal((IngestMetrics.Name, ConnectionTrace.ActivityName, traceId), (connection.Scope, connection.Name, connection.TraceId));
        Assert.Equal("1000", connection.Attributes["ingest.close_code"]);
        Assert.Equal("2", connection.Attributes["ingest.messages"]);
        await Poll.UntilAsync(() => receiver.Spans.Any(s => s.SpanId == connection.ParentSpanId), "ASP.NET Core's span of the handshake", ArrivalTimeout, () => Describe(receiver.Spans));
        var handshake = receiver.Spans.Single(s => s.SpanId == connection.ParentSpanId);
        Assert.Equal(("Microsoft.AspNetCore", traceId, "101"), (handshake.Scope, handshake.TraceId, handshake.Attributes["http.response.status_code"]));

        // The Kafka batches that carried its records link to it, and together hold its three records.
        await Poll.UntilAsync(
            () => Batches(receiver, traceId, spanId).Sum(b => long.Parse(b.Attributes["messaging.batch.message_count"], System.Globalization.CultureInfo.InvariantCulture)) >= 3,
            "Kafka batch spans linked to the connection, with its three records",
            ArrivalTimeout,
            () => Describe(receiver.Spans));
        Assert.All(Batches(receiver, traceId, spanId), b => Assert.Equal(("kafka", IngestMetrics.Name), (b.Attributes["messaging.system"], b.Scope)));

        // /stream shows the traceparent to a subscriber that asked (?trace=1), and only to it.
        await traced.WaitUntilAsync(() => traced.TelemetryCount == 3, "the three events on /stream?trace=1");
        await plain.WaitUntilAsync(() => plain.TelemetryCount == 3, "the three events on /stream");
        Assert.All(traced.Telemetry, e => Assert.Equal(traceParent, JsonDocument.Parse(e.Data).RootElement.GetProperty("traceparent").GetString()));
        Assert.All(plain.Telemetry, e => Assert.False(JsonDocument.Parse(e.Data).RootElement.TryGetProperty("traceparent", out _)));

        // Metrics arrive too (cumulative): the gateway's, with their tags, and the built-in meters.
        await Poll.UntilAsync(
            () => Latest(receiver, "ingest.events.received", ("outcome", "accepted")) == 3,
            "ingest.events.received{outcome=accepted} = 3 in an OTLP metrics export",
            ArrivalTimeout,
            () => string.Join(" | ", receiver.MetricExports is [.., var last] ? last.Where(p => p.Metric.StartsWith("ingest.", StringComparison.Ordinal)) : []));
        Assert.Equal(2, Latest(receiver, "ingest.messages.received", ("outcome", "accepted")));
        Assert.Equal(0, Latest(receiver, "ingest.messages.received", ("outcome", ErrorCodes.InvalidJson)));
        Assert.Equal(2, Latest(receiver, "ingest.message.size"));
        var names = receiver.MetricExports[^1].Select(p => p.Metric).ToHashSet();
        Assert.Contains("kestrel.active_connections", names);
        Assert.Contains("dotnet.gc.collections", names);
    }

    [Fact]
    public async Task NoTraceExporter_NothingListens_AndRecordsHaveNoTraceParent()
    {
        await using var gateway = await TestGateway.StartAsync();
        await using var client = await TestClient.ConnectAsync(gateway.WebSocketUri);

        await client.SendAndWaitAckAsync(Event(1));

        Assert.False(IngestMetrics.ActivitySource.HasListeners());
        var record = Assert.Single(TopicReader.ReadAll(gateway.Kafka.BootstrapServers, gateway.Topic, 1));
        Assert.False(record.Headers.ContainsKey(IngestHeaders.TraceParent));
    }

    [Fact]
    public async Task SamplerAlwaysOff_FromTheStandardVariable_NoSpanIsRecorded_AndNoTraceParentIsWritten()
    {
        await using var receiver = await OtlpReceiver.StartAsync();
        var settings = Otlp(receiver);
        settings["OTEL_TRACES_SAMPLER"] = "always_off";
        await using var gateway = await TestGateway.StartAsync(settings);
        await using (var client = await TestClient.ConnectAsync(gateway.WebSocketUri))
        {
            await client.SendAndWaitAckAsync(Event(1));
            await client.CloseAsync();
        }

        var record = Assert.Single(TopicReader.ReadAll(gateway.Kafka.BootstrapServers, gateway.Topic, 1));
        Assert.True(IngestMetrics.ActivitySource.HasListeners()); // a trace exporter is configured...
        Assert.False(record.Headers.ContainsKey(IngestHeaders.TraceParent)); // ...but the sampler records nothing
        await gateway.StopAsync(); // flushes what the exporters hold
        Assert.Empty(receiver.Spans);
    }

    /// <summary>OTLP over HTTP with protobuf to <paramref name="receiver"/>, exporting often.</summary>
    private static Dictionary<string, string?> Otlp(OtlpReceiver receiver) => new()
    {
        ["OTEL_EXPORTER_OTLP_ENDPOINT"] = receiver.Endpoint.ToString(),
        ["OTEL_EXPORTER_OTLP_PROTOCOL"] = "http/protobuf",
        ["OTEL_METRIC_EXPORT_INTERVAL"] = "300",
        ["OTEL_BSP_SCHEDULE_DELAY"] = "200",
    };

    private static string Event(int n) => $"{{\"msg\":\"event {n}\",\"clientId\":\"c\",\"timestamp\":{n}}}";

    /// <summary>W3C Trace Context level 1: <c>00-&lt;32 hex&gt;-&lt;16 hex&gt;-&lt;2 hex&gt;</c>, sampled.</summary>
    private static (string TraceId, string SpanId) ParseTraceParent(string traceParent)
    {
        var parts = traceParent.Split('-');
        Assert.Equal(4, parts.Length);
        Assert.Equal("00", parts[0]);
        Assert.Matches("^[0-9a-f]{32}$", parts[1]);
        Assert.Matches("^[0-9a-f]{16}$", parts[2]);
        Assert.Equal("01", parts[3]);
        return (parts[1], parts[2]);
    }

    private static OtlpSpan[] Batches(OtlpReceiver receiver, string traceId, string spanId) =>
        receiver.Spans.Where(s => s.Name == "ingest.kafka.batch" && s.Links.Contains((traceId, spanId))).ToArray();

    /// <summary>The value of the point with these attributes in the latest export that has the metric; -1 when none has.</summary>
    private static double Latest(OtlpReceiver receiver, string metric, params (string Key, string Value)[] attributes) =>
        receiver.MetricExports
            .Select(export => export.Where(p => p.Scope == IngestMetrics.Name && p.Metric == metric && attributes.All(a => p.Attributes.TryGetValue(a.Key, out var v) && v == a.Value)).ToArray())
            .LastOrDefault(points => points.Length > 0) is [var point] ? point.Value : -1;

    private static string Describe(IEnumerable<OtlpSpan> spans) =>
        "spans so far: " + string.Join(" | ", spans.Select(s => $"{s.Scope}/{s.Name} {s.TraceId}/{s.SpanId} parent {s.ParentSpanId}"));
}
