using System.Buffers.Text;
using System.Text;
using Confluent.Kafka;
using Ingest.Contracts;
using Ingest.Gateway.Configuration;
using Ingest.Gateway.Pipeline;
using Microsoft.Extensions.Options;

namespace Ingest.Gateway.Kafka;

/// <summary>
/// Turns pipeline items into Kafka records: their topic and their headers (docs/protocol.md, "What
/// lands in Kafka"). Used by the producer's one thread only.
/// </summary>
internal sealed class RecordFactory
{
    private readonly Header _gateway;
    private readonly bool _sourceHeaders;
    private long _receivedAtMs = -1;
    private Header? _receivedAt;

    public RecordFactory(IOptions<IngestOptions> options)
    {
        var kafka = options.Value.Kafka;
        EventsTopic = kafka.Topic;
        DeadLetterTopic = kafka.DeadLetterTopic ?? "";
        InstanceId = string.IsNullOrWhiteSpace(options.Value.InstanceId)
            ? $"{Environment.MachineName}-{Environment.ProcessId}"
            : options.Value.InstanceId;
        _gateway = new Header(IngestHeaders.Gateway, Encoding.UTF8.GetBytes(InstanceId));
        _sourceHeaders = kafka.SourceHeaders;
    }

    public string EventsTopic { get; }

    public string DeadLetterTopic { get; }

    /// <summary>This gateway's id, the <c>ingest-gateway</c> header.</summary>
    public string InstanceId { get; }

    public string TopicOf(PipelineItem item) => item.Kind == PipelineItemKind.Events ? EventsTopic : DeadLetterTopic;

    /// <summary>
    /// The headers of an item's records (null: none). Events of one connection received within the
    /// same millisecond share one <see cref="Headers"/> instance (nothing changes headers once made,
    /// and the producer copies them into librdkafka); dead letters get their own, with the error.
    /// Without <c>Ingest:Kafka:SourceHeaders</c> an event carries only its connection's
    /// <c>traceparent</c>, while tracing records it.
    /// </summary>
    public Headers? HeadersOf(PipelineItem item)
    {
        if (item.Kind == PipelineItemKind.DeadLetter)
        {
            var deadLetter = new Headers
            {
                ReceivedAt(item.ReceivedAtMs),
                new Header(IngestHeaders.Connection, item.Source.ConnectionIdUtf8),
                _gateway,
                new Header(IngestHeaders.Error, Encoding.UTF8.GetBytes(item.ErrorCode)),
                new Header(IngestHeaders.ErrorDetail, Encoding.UTF8.GetBytes(item.ErrorDetail)),
            };
            AddTraceParent(deadLetter, item.Source);
            return deadLetter;
        }

        if (!_sourceHeaders)
        {
            return TraceHeaders(item.Source);
        }

        if (item.Source.RecordCache is SharedHeaders cached && cached.ReceivedAtMs == item.ReceivedAtMs)
        {
            return cached.Headers;
        }

        var headers = new Headers { ReceivedAt(item.ReceivedAtMs), new Header(IngestHeaders.Connection, item.Source.ConnectionIdUtf8), _gateway };
        AddTraceParent(headers, item.Source);
        item.Source.RecordCache = new SharedHeaders(item.ReceivedAtMs, headers);
        return headers;
    }

    /// <summary>An event's headers without the source headers: the connection's <c>traceparent</c> alone, made once per connection, or none.</summary>
    private static Headers? TraceHeaders(ItemSource source)
    {
        if (source.Trace is null)
        {
            return null;
        }

        if (source.RecordCache is Headers cached)
        {
            return cached;
        }

        var headers = new Headers();
        AddTraceParent(headers, source);
        source.RecordCache = headers;
        return headers;
    }

    /// <summary>The W3C <c>traceparent</c> of the connection's activity, only while it is recorded (tracing on).</summary>
    private static void AddTraceParent(Headers headers, ItemSource source)
    {
        if (source.Trace is { } trace)
        {
            headers.Add(IngestHeaders.TraceParent, trace.TraceParentUtf8);
        }
    }

    /// <summary>The <c>ingest-received-at</c> header: one instance per millisecond for every connection.</summary>
    private Header ReceivedAt(long unixMs)
    {
        if (_receivedAt is null || _receivedAtMs != unixMs)
        {
            Span<byte> digits = stackalloc byte[20];
            Utf8Formatter.TryFormat(unixMs, digits, out var length);
            _receivedAt = new Header(IngestHeaders.ReceivedAt, digits[..length].ToArray());
            _receivedAtMs = unixMs;
        }

        return _receivedAt;
    }

    private sealed record SharedHeaders(long ReceivedAtMs, Headers Headers);
}
