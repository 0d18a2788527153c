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
    private readonly byte[] _instanceIdUtf8;
    private readonly SourceHeaders _sourceHeaders;
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
        _instanceIdUtf8 = Encoding.UTF8.GetBytes(InstanceId);
        _gateway = new Header(IngestHeaders.Gateway, _instanceIdUtf8);
        _sourceHeaders = kafka.SourceHeaders;
    }

    public string EventsTopic { get; }

    public string DeadLetterTopic { get; }

    /// <summary>This gateway's id, in the <c>ingest-source</c> or <c>ingest-gateway</c> header.</summary>
    public string InstanceId { get; }

    public string TopicOf(PipelineItem item) => item.Kind == PipelineItemKind.Events ? EventsTopic : DeadLetterTopic;

    /// <summary>
    /// The headers of an item's records (null: none); the records' timestamp is the item's
    /// <see cref="PipelineItem.ReceivedAtMs"/>. By default (<see cref="SourceHeaders.Compact"/>) an
    /// event carries one <c>ingest-source</c> header, made once per connection. With
    /// <see cref="SourceHeaders.Separate"/>, events of one connection received within the same
    /// millisecond share one <see cref="Headers"/> instance (nothing changes headers once made, and
    /// the producer copies them into librdkafka). With <see cref="SourceHeaders.None"/> an event
    /// carries only its connection's <c>traceparent</c>, while tracing records it. Dead letters get
    /// their own, with the error.
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

        if (_sourceHeaders != SourceHeaders.Separate)
        {
            return ConnectionHeaders(item.Source);
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

    /// <summary>
    /// An event's headers when they are the same for its whole connection (<see cref="SourceHeaders.Compact"/>
    /// or <see cref="SourceHeaders.None"/>), made at its first record: the <c>ingest-source</c> header
    /// (Compact: the connection's id, a space, this gateway's id) and the connection's
    /// <c>traceparent</c>; null when there are none.
    /// </summary>
    private Headers? ConnectionHeaders(ItemSource connection)
    {
        if (connection.RecordCache is Headers cached)
        {
            return cached;
        }

        var compact = _sourceHeaders == SourceHeaders.Compact;
        if (!compact && connection.Trace is null)
        {
            return null;
        }

        var headers = new Headers();
        if (compact)
        {
            headers.Add(IngestHeaders.Source, IngestHeaders.SourceValue(connection.ConnectionIdUtf8, _instanceIdUtf8));
        }

        AddTraceParent(headers, connection);
        connection.RecordCache = headers;
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
