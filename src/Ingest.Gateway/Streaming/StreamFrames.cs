using System.Buffers;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using Ingest.Contracts;

namespace Ingest.Gateway.Streaming;

/// <summary>
/// The Server-Sent Events frames of <c>GET /stream</c> (WHATWG HTML, "Server-sent events"), as
/// UTF-8 bytes. A frame ends with a blank line, so frames can be written back to back.
/// </summary>
internal static class StreamFrames
{
    /// <summary>Relaxed escaping keeps non-ASCII client ids readable; it still escapes quotes, backslashes and control characters, so no frame line can break.</summary>
    internal static readonly JsonWriterOptions JsonOptions = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary><c>retry: 2000</c>, the first line of every stream: EventSource reconnects 2 s after it ends.</summary>
    public static ReadOnlySpan<byte> Retry => "retry: 2000\n\n"u8;

    /// <summary>A comment that keeps proxies from closing an idle stream; EventSource ignores it.</summary>
    public static ReadOnlySpan<byte> Heartbeat => ": heartbeat\n\n"u8;

    /// <summary><c>event: ready</c> with <c>data: {"clientId":...}</c> (null when unfiltered): the subscription is in place.</summary>
    public static byte[] Ready(string? clientId)
    {
        var buffer = new ArrayBufferWriter<byte>(64);
        buffer.Write("event: ready\ndata: "u8);
        using (var json = new Utf8JsonWriter(buffer, JsonOptions))
        {
            json.WriteStartObject();
            if (clientId is null)
            {
                json.WriteNull("clientId");
            }
            else
            {
                json.WriteString("clientId", clientId);
            }

            json.WriteEndObject();
        }

        buffer.Write("\n\n"u8);
        return buffer.WrittenSpan.ToArray();
    }

    /// <summary><c>event: dropped</c> with <c>data: {"dropped":N}</c>: N events were left out since the previous notice.</summary>
    public static byte[] Dropped(long count) => Encoding.UTF8.GetBytes($"event: dropped\ndata: {{\"dropped\":{count}}}\n\n");
}

/// <summary>
/// Writes <c>event: telemetry</c> frames, reusing one buffer; not thread-safe (the stream's
/// consumer thread owns one).
/// </summary>
internal sealed class TelemetryFrameWriter : IDisposable
{
    private readonly ArrayBufferWriter<byte> _json = new(1024);
    private readonly ArrayBufferWriter<byte> _frame = new(1024);
    private readonly Utf8JsonWriter _writer;

    public TelemetryFrameWriter()
    {
        _writer = new Utf8JsonWriter(_json, StreamFrames.JsonOptions);
    }

    /// <summary>
    /// <c>id: &lt;partition&gt;:&lt;offset&gt;</c>, <c>event: telemetry</c> and <c>data: {"partition":P,"offset":O,"timestamp":T,"receivedAt":R,"clientId":K,"event":E}</c>,
    /// where E is the record value verbatim when it is one JSON value, else the value as a JSON
    /// string (null for no value). <paramref name="timestamp"/>, <paramref name="receivedAt"/> and
    /// <paramref name="clientId"/> are written as null when absent. With <paramref name="trace"/>,
    /// <c>"traceparent"</c> comes after <c>clientId</c> (null when the record has none).
    /// </summary>
    public byte[] Write(int partition, long offset, long? timestamp, long? receivedAt, string? clientId, byte[]? value, TraceField? trace = null)
    {
        _json.ResetWrittenCount();
        _writer.Reset(_json);
        _writer.WriteStartObject();
        _writer.WriteNumber("partition", partition);
        _writer.WriteNumber("offset", offset);
        WriteNumberOrNull("timestamp", timestamp);
        WriteNumberOrNull("receivedAt", receivedAt);
        if (clientId is null)
        {
            _writer.WriteNull("clientId");
        }
        else
        {
            _writer.WriteString("clientId", clientId);
        }

        if (trace is { } field)
        {
            if (field.TraceParent is null)
            {
                _writer.WriteNull("traceparent");
            }
            else
            {
                _writer.WriteString("traceparent", field.TraceParent);
            }
        }

        _writer.WritePropertyName("event");
        if (value is null)
        {
            _writer.WriteNullValue();
        }
        else if (JsonText.IsSingleValue(value))
        {
            // Checked just above; embedded byte for byte, as the client sent it.
            _writer.WriteRawValue(value, skipInputValidation: true);
        }
        else
        {
            _writer.WriteStringValue(Encoding.UTF8.GetString(value));
        }

        _writer.WriteEndObject();
        _writer.Flush();

        _frame.ResetWrittenCount();
        Span<byte> number = stackalloc byte[24];
        _frame.Write("id: "u8);
        partition.TryFormat(number, out var length, provider: System.Globalization.CultureInfo.InvariantCulture);
        _frame.Write(number[..length]);
        _frame.Write(":"u8);
        offset.TryFormat(number, out length, provider: System.Globalization.CultureInfo.InvariantCulture);
        _frame.Write(number[..length]);
        _frame.Write("\nevent: telemetry\n"u8);
        WriteDataLines(_frame, _json.WrittenSpan);
        _frame.Write("\n"u8);
        return _frame.WrittenSpan.ToArray();
    }

    /// <summary>
    /// One <c>data:</c> line, unless the embedded value has line breaks (JSON allows them only as
    /// whitespace between tokens): SSE ends a line at CR, LF or CRLF, so each line gets its own
    /// <c>data:</c> field, and clients join them with LF, which leaves the JSON intact.
    /// </summary>
    private static void WriteDataLines(ArrayBufferWriter<byte> frame, ReadOnlySpan<byte> data)
    {
        while (true)
        {
            frame.Write("data: "u8);
            var end = data.IndexOfAny((byte)'\r', (byte)'\n');
            if (end < 0)
            {
                frame.Write(data);
                frame.Write("\n"u8);
                return;
            }

            frame.Write(data[..end]);
            frame.Write("\n"u8);
            var next = data[end] == '\r' && end + 1 < data.Length && data[end + 1] == '\n' ? end + 2 : end + 1;
            data = data[next..];
        }
    }

    public void Dispose() => _writer.Dispose();

    private void WriteNumberOrNull(string name, long? number)
    {
        if (number is { } n)
        {
            _writer.WriteNumber(name, n);
        }
        else
        {
            _writer.WriteNull(name);
        }
    }
}

/// <summary>The <c>traceparent</c> field of a telemetry frame, for subscribers that asked for it (its value may be null).</summary>
internal readonly record struct TraceField(string? TraceParent);
