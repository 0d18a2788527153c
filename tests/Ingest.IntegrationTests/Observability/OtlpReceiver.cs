using System.Collections.Concurrent;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using static Ingest.IntegrationTests.Observability.ProtobufReader;

namespace Ingest.IntegrationTests.Observability;

/// <summary>A span as OTLP carried it: ids in lowercase hex, and its links.</summary>
internal sealed record OtlpSpan(string Scope, string Name, string TraceId, string SpanId, string ParentSpanId, IReadOnlyList<(string TraceId, string SpanId)> Links, IReadOnlyDictionary<string, string> Attributes);

/// <summary>One data point of a metric as OTLP carried it: a sum's or gauge's value, a histogram's count.</summary>
internal sealed record OtlpPoint(string Scope, string Metric, IReadOnlyDictionary<string, string> Attributes, double Value);

/// <summary>
/// A tiny OTLP/HTTP receiver on 127.0.0.1 (protocol http/protobuf): <c>POST /v1/traces</c> and
/// <c>POST /v1/metrics</c> take protobuf bodies (opentelemetry-proto's
/// <c>ExportTraceServiceRequest</c> and <c>ExportMetricsServiceRequest</c>), decoded here by
/// walking the wire format, and answer 200 with an empty response message.
/// </summary>
internal sealed class OtlpReceiver : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly ConcurrentQueue<OtlpSpan> _spans = new();
    private readonly ConcurrentQueue<IReadOnlyList<OtlpPoint>> _metricExports = new();

    private OtlpReceiver(WebApplication app)
    {
        _app = app;
    }

    /// <summary>The base URL, for <c>OTEL_EXPORTER_OTLP_ENDPOINT</c>.</summary>
    public Uri Endpoint => new(_app.Urls.First());

    public IReadOnlyList<OtlpSpan> Spans => _spans.ToArray();

    /// <summary>The points of each metrics export, in the order they came.</summary>
    public IReadOnlyList<IReadOnlyList<OtlpPoint>> MetricExports => _metricExports.ToArray();

    public static async Task<OtlpReceiver> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        var app = builder.Build();
        var receiver = new OtlpReceiver(app);
        app.MapPost("/v1/traces", async context => receiver.Traces(await BodyAsync(context)));
        app.MapPost("/v1/metrics", async context => receiver.Metrics(await BodyAsync(context)));
        await app.StartAsync(TestContext.Current.CancellationToken);
        return receiver;
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync(CancellationToken.None);
        await _app.DisposeAsync();
    }

    private static async Task<ReadOnlyMemory<byte>> BodyAsync(HttpContext context)
    {
        if (context.Request.ContentType != "application/x-protobuf")
        {
            throw new InvalidOperationException($"OTLP/HTTP with protobuf was expected, not {context.Request.ContentType}");
        }

        using var body = new MemoryStream();
        await context.Request.Body.CopyToAsync(body, context.RequestAborted);
        context.Response.ContentType = "application/x-protobuf";
        return body.ToArray();
    }

    /// <summary>ExportTraceServiceRequest: resource_spans = 1; ResourceSpans: scope_spans = 2; ScopeSpans: scope = 1 (name = 1), spans = 2.</summary>
    private void Traces(ReadOnlyMemory<byte> request)
    {
        foreach (var resourceSpans in Embedded(request, 1))
        {
            foreach (var scopeSpans in Embedded(resourceSpans, 2))
            {
                var scope = Embedded(scopeSpans, 1).Select(s => String(s, 1)).FirstOrDefault() ?? "";
                foreach (var span in Embedded(scopeSpans, 2))
                {
                    // Span: trace_id = 1, span_id = 2, parent_span_id = 4, name = 5, attributes = 9, links = 13 (Link: trace_id = 1, span_id = 2).
                    _spans.Enqueue(new OtlpSpan(
                        scope,
                        String(span, 5),
                        Hex(span, 1),
                        Hex(span, 2),
                        Hex(span, 4),
                        Embedded(span, 13).Select(link => (Hex(link, 1), Hex(link, 2))).ToArray(),
                        Attributes(span, 9)));
                }
            }
        }
    }

    /// <summary>
    /// ExportMetricsServiceRequest: resource_metrics = 1; ResourceMetrics: scope_metrics = 2;
    /// ScopeMetrics: scope = 1, metrics = 2; Metric: name = 1, gauge = 5, sum = 7, histogram = 9,
    /// each with data_points = 1.
    /// </summary>
    private void Metrics(ReadOnlyMemory<byte> request)
    {
        var points = new List<OtlpPoint>();
        foreach (var resourceMetrics in Embedded(request, 1))
        {
            foreach (var scopeMetrics in Embedded(resourceMetrics, 2))
            {
                var scope = Embedded(scopeMetrics, 1).Select(s => String(s, 1)).FirstOrDefault() ?? "";
                foreach (var metric in Embedded(scopeMetrics, 2))
                {
                    var name = String(metric, 1);
                    foreach (var field in Fields(metric).Where(f => f.WireType == LengthDelimited && f.Number is 5 or 7 or 9))
                    {
                        foreach (var point in Embedded(field.Bytes, 1))
                        {
                            points.Add(field.Number == 9 ? HistogramPoint(scope, name, point) : NumberPoint(scope, name, point));
                        }
                    }
                }
            }
        }

        _metricExports.Enqueue(points);
    }

    /// <summary>NumberDataPoint: attributes = 7, as_double = 4 (fixed64), as_int = 6 (sfixed64).</summary>
    private static OtlpPoint NumberPoint(string scope, string name, ReadOnlyMemory<byte> point)
    {
        var value = 0.0;
        foreach (var field in Fields(point))
        {
            value = field switch
            {
                { Number: 4, WireType: Fixed64 } => BitConverter.UInt64BitsToDouble(field.Scalar),
                { Number: 6, WireType: Fixed64 } => (long)field.Scalar,
                _ => value,
            };
        }

        return new OtlpPoint(scope, name, Attributes(point, 7), value);
    }

    /// <summary>HistogramDataPoint: attributes = 9, count = 4 (fixed64).</summary>
    private static OtlpPoint HistogramPoint(string scope, string name, ReadOnlyMemory<byte> point) =>
        new(scope, name, Attributes(point, 9), Fields(point).Where(f => f is { Number: 4, WireType: Fixed64 }).Select(f => (double)f.Scalar).LastOrDefault());

    /// <summary>KeyValue: key = 1, value = 2; AnyValue: string_value = 1, bool_value = 2, int_value = 3, double_value = 4 (others left out).</summary>
    private static Dictionary<string, string> Attributes(ReadOnlyMemory<byte> message, int number)
    {
        var attributes = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var keyValue in Embedded(message, number))
        {
            var key = String(keyValue, 1);
            foreach (var value in Embedded(keyValue, 2))
            {
                foreach (var field in Fields(value))
                {
                    attributes[key] = field switch
                    {
                        { Number: 1, WireType: LengthDelimited } => System.Text.Encoding.UTF8.GetString(field.Bytes.Span),
                        { Number: 2, WireType: Varint } => field.Scalar != 0 ? "true" : "false",
                        { Number: 3, WireType: Varint } => ((long)field.Scalar).ToString(System.Globalization.CultureInfo.InvariantCulture),
                        { Number: 4, WireType: Fixed64 } => BitConverter.UInt64BitsToDouble(field.Scalar).ToString(System.Globalization.CultureInfo.InvariantCulture),
                        _ => "",
                    };
                }
            }
        }

        return attributes;
    }
}
