namespace Ingest.Contracts;

/// <summary>
/// Names of the record headers the gateway writes (docs/protocol.md, "What lands in Kafka"): one
/// definition for the gateway that writes them and the tools that read or imitate them.
/// </summary>
public static class IngestHeaders
{
    /// <summary>
    /// An event's source, by default (<c>Ingest:Kafka:SourceHeaders=Compact</c>): the connection id,
    /// one space, and the gateway's instance id (<c>&lt;connection&gt; &lt;gateway&gt;</c>; a
    /// connection id has no space, an instance id may). The record's timestamp is when the gateway
    /// read the message.
    /// </summary>
    public const string Source = "ingest-source";

    /// <summary>The value of <see cref="Source"/>: <paramref name="connectionId"/>, one space, <paramref name="instanceId"/> (UTF-8).</summary>
    public static byte[] SourceValue(ReadOnlySpan<byte> connectionId, ReadOnlySpan<byte> instanceId) => [.. connectionId, (byte)' ', .. instanceId];

    /// <summary>When the gateway read the message: Unix milliseconds, decimal ASCII.</summary>
    public const string ReceivedAt = "ingest-received-at";

    /// <summary>The id of the WebSocket connection the message came on.</summary>
    public const string Connection = "ingest-connection";

    /// <summary>The id of the gateway instance.</summary>
    public const string Gateway = "ingest-gateway";

    /// <summary>Dead letters: the error code (or <c>message_too_large</c>).</summary>
    public const string Error = "ingest-error";

    /// <summary>Dead letters: what was wrong, in words.</summary>
    public const string ErrorDetail = "ingest-error-detail";

    /// <summary>
    /// While the gateway traces (an OTLP trace exporter is configured) and the connection's activity
    /// is sampled: that activity's W3C Trace Context <c>traceparent</c>,
    /// <c>00-&lt;32 hex trace id&gt;-&lt;16 hex span id&gt;-&lt;2 hex flags&gt;</c>. Absent otherwise.
    /// </summary>
    public const string TraceParent = "traceparent";
}
