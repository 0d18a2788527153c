using System.Buffers;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Confluent.Kafka;
using Ingest.Contracts;
using Ingest.Listener.Events;

namespace Ingest.Listener.Output;

/// <summary>
/// Turns one consumed record into one line of output. Everything that comes from the wire is
/// escaped, so an event can neither span lines nor send control sequences to the terminal.
/// Not thread-safe: it reuses its buffers (one formatter per consume loop).
/// </summary>
internal sealed class EventFormatter
{
    /// <summary>Dead-letter values can be up to the gateway's message limit (1 MiB); a line shows the start.</summary>
    internal const int MaxDeadLetterValueChars = 512;

    internal const string ErrorHeader = IngestHeaders.Error;
    internal const string ErrorDetailHeader = IngestHeaders.ErrorDetail;
    internal const string TraceParentHeader = IngestHeaders.TraceParent;

    private static readonly Encoding Utf8 = new UTF8Encoding(encoderShouldEmitUTF8Identifier: false);

    private readonly EventFormat _format;
    private readonly bool _headers;
    private readonly bool _deadLetter;
    private readonly bool _colour;
    private readonly bool _trace;
    private readonly StringBuilder _line = new(256);
    private readonly ArrayBufferWriter<byte> _json = new(512);
    private char[] _chars = new char[512];

    /// <param name="format">Text or JSON lines.</param>
    /// <param name="headers">Show the record headers.</param>
    /// <param name="deadLetter">Dead-letter records: error headers first, the raw value escaped (implies <paramref name="headers"/>).</param>
    /// <param name="colour">Emit ANSI colours (text format only).</param>
    /// <param name="trace">
    /// Show the record's <c>traceparent</c> (the gateway writes it while it traces): text, a
    /// <c>traceparent=</c> field when the record has one; JSON, the envelope with a
    /// <c>"traceparent"</c> property (null when the record has none).
    /// </param>
    public EventFormatter(EventFormat format, bool headers, bool deadLetter, bool colour, bool trace = false)
    {
        _format = format;
        _trace = trace;
        _headers = headers || deadLetter;
        _deadLetter = deadLetter;
        _colour = colour && format == EventFormat.Text;
    }

    /// <summary>Writes the record as one line, newline included.</summary>
    public void Write(TextWriter writer, ConsumeResult<byte[]?, byte[]?> record)
    {
        if (_format == EventFormat.Json)
        {
            WriteJson(writer, record);
        }
        else
        {
            WriteText(writer, record);
        }
    }

    /// <summary>The line <see cref="Write"/> would write, without its newline.</summary>
    public string Format(ConsumeResult<byte[]?, byte[]?> record)
    {
        using var writer = new StringWriter(CultureInfo.InvariantCulture);
        Write(writer, record);
        return writer.ToString().TrimEnd('\n');
    }

    private void WriteText(TextWriter writer, ConsumeResult<byte[]?, byte[]?> record)
    {
        var line = _line.Clear();
        var message = record.Message;
        Start(Ansi.Dim);
        if (message.Timestamp.Type == TimestampType.NotAvailable)
        {
            line.Append('-');
        }
        else
        {
            line.Append(CultureInfo.InvariantCulture, $"{message.Timestamp.UtcDateTime:yyyy-MM-dd'T'HH:mm:ss.fff'Z'}");
        }

        line.Append(' ');
        End(Ansi.Dim);
        Start(Ansi.Cyan);
        line.Append(CultureInfo.InvariantCulture, $"{record.Partition.Value}/{record.Offset.Value}");
        End(Ansi.Cyan);

        var value = message.Value ?? [];
        if (_deadLetter)
        {
            AppendHeader(message.Headers, ErrorHeader, Ansi.Red);
            AppendHeader(message.Headers, ErrorDetailHeader, Ansi.Red);
            AppendKey(message.Key);
            var truncated = value.Length > MaxDeadLetterValueChars;
            AppendField("value", Utf8.GetString(value, 0, Math.Min(value.Length, MaxDeadLetterValueChars)), null);
            if (truncated)
            {
                AppendField("valueBytes", value.Length.ToString(CultureInfo.InvariantCulture), null);
            }
        }
        else if (TelemetryEvent.TryParse(value, out var telemetryEvent))
        {
            AppendField("clientId", telemetryEvent.ClientId, Ansi.Yellow);
            AppendField("msg", telemetryEvent.Msg, Ansi.Bold);
            AppendField("timestamp", telemetryEvent.Timestamp?.ToString(CultureInfo.InvariantCulture), null);
        }
        else
        {
            // Not an event (the gateway validates, so this is some other producer): show it escaped.
            AppendKey(message.Key);
            AppendField("value", Utf8.GetString(value), Ansi.Red);
        }

        if (_trace)
        {
            AppendHeader(message.Headers, TraceParentHeader, Ansi.Cyan);
        }

        if (_headers && message.Headers is { } headers)
        {
            foreach (var header in headers)
            {
                if ((_deadLetter && header.Key is ErrorHeader or ErrorDetailHeader) || (_trace && header.Key == TraceParentHeader))
                {
                    continue;
                }

                AppendField(header.Key, Utf8.GetString(header.GetValueBytes() ?? []), Ansi.Dim);
            }
        }

        line.Append('\n');
        writer.Write(line);
    }

    private void AppendKey(byte[]? key)
    {
        if (key is not null)
        {
            AppendField("key", Utf8.GetString(key), Ansi.Yellow);
        }
    }

    private void AppendHeader(Headers? headers, string name, string colour)
    {
        if (headers is not null && headers.TryGetLastBytes(name, out var bytes))
        {
            AppendField(name, Utf8.GetString(bytes ?? []), colour);
        }
    }

    /// <summary>Appends <c> name=value</c>; absent values are left out.</summary>
    private void AppendField(string name, string? value, string? colour)
    {
        if (value is null)
        {
            return;
        }

        var line = _line;
        line.Append(' ');
        Start(Ansi.Dim);
        Logfmt.Append(line, name);
        line.Append('=');
        End(Ansi.Dim);
        Start(colour);
        Logfmt.Append(line, value);
        End(colour);
    }

    private void Start(string? colour)
    {
        if (_colour && colour is not null)
        {
            _line.Append(colour);
        }
    }

    private void End(string? colour)
    {
        if (_colour && colour is not null)
        {
            _line.Append(Ansi.Reset);
        }
    }

    private void WriteJson(TextWriter writer, ConsumeResult<byte[]?, byte[]?> record)
    {
        var message = record.Message;
        var value = message.Value;
        _json.ResetWrittenCount();
        if (!_headers && !_trace)
        {
            if (value is null)
            {
                writer.Write("null\n");
                return;
            }

            if (value.AsSpan().IndexOfAnyInRange((byte)0, (byte)0x1F) < 0)
            {
                // The common case: the event's bytes exactly as received, no re-encoding.
                WriteUtf8Line(writer, value);
                return;
            }

            using (var json = new Utf8JsonWriter(_json))
            {
                WriteJsonValue(json, value);
            }

            WriteUtf8Line(writer, _json.WrittenSpan);
            return;
        }

        using (var json = new Utf8JsonWriter(_json))
        {
            json.WriteStartObject();
            json.WriteString("topic", record.Topic);
            json.WriteNumber("partition", record.Partition.Value);
            json.WriteNumber("offset", record.Offset.Value);
            if (message.Timestamp.Type != TimestampType.NotAvailable)
            {
                json.WriteNumber("timestamp", message.Timestamp.UnixTimestampMs);
            }

            if (message.Key is null)
            {
                json.WriteNull("key");
            }
            else
            {
                json.WriteString("key", Utf8.GetString(message.Key));
            }

            json.WriteStartObject("headers");
            foreach (var header in message.Headers ?? [])
            {
                json.WriteString(header.Key, Utf8.GetString(header.GetValueBytes() ?? []));
            }

            json.WriteEndObject();
            if (_trace)
            {
                if (message.Headers is { } headers && headers.TryGetLastBytes(TraceParentHeader, out var traceParent))
                {
                    json.WriteString("traceparent", Utf8.GetString(traceParent ?? []));
                }
                else
                {
                    json.WriteNull("traceparent");
                }
            }

            json.WritePropertyName("value");
            if (value is null)
            {
                json.WriteNullValue();
            }
            else
            {
                WriteJsonValue(json, value);
            }

            json.WriteEndObject();
        }

        WriteUtf8Line(writer, _json.WrittenSpan);
    }

    /// <summary>
    /// Writes a value that is JSON as JSON, on one line (line breaks can only be whitespace between
    /// tokens, so compacting keeps every token), and anything else (dead letters) as a JSON string.
    /// </summary>
    private static void WriteJsonValue(Utf8JsonWriter json, byte[] value)
    {
        if (!JsonText.IsSingleValue(value))
        {
            json.WriteStringValue(Utf8.GetString(value));
        }
        else if (value.AsSpan().IndexOfAnyInRange((byte)0, (byte)0x1F) < 0)
        {
            json.WriteRawValue(value, skipInputValidation: true);
        }
        else
        {
            using var document = JsonDocument.Parse(value);
            document.WriteTo(json);
        }
    }

    private void WriteUtf8Line(TextWriter writer, ReadOnlySpan<byte> utf8)
    {
        var needed = Utf8.GetMaxCharCount(utf8.Length) + 1;
        if (_chars.Length < needed)
        {
            _chars = new char[Math.Max(needed, _chars.Length * 2)];
        }

        var length = Utf8.GetChars(utf8, _chars);
        _chars[length] = '\n';
        writer.Write(_chars, 0, length + 1);
    }
}
