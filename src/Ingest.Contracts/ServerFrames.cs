using System.Buffers;
using System.Buffers.Text;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace Ingest.Contracts;

/// <summary>Writes the JSON text frames the gateway sends (docs/protocol.md, "Server to client").</summary>
public static class ServerFrames
{
    /// <summary>Room for the longest ack frame, <c>{"type":"ack","upTo":9223372036854775807}</c>.</summary>
    public const int MaxAckLength = 48;

    private static readonly byte[] AckPrefix = """{"type":"ack","upTo":"""u8.ToArray();

    // Frames are JSON read by programs, never embedded in HTML: escape only what JSON requires,
    // so that messages stay readable ("'x' is an invalid start", not "\u0027x\u0027 ...").
    private static readonly JsonWriterOptions WriterOptions = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>Writes <c>{"type":"ack","upTo":N}</c> into <paramref name="destination"/> (at least <see cref="MaxAckLength"/> bytes).</summary>
    public static int WriteAck(Span<byte> destination, long upTo)
    {
        AckPrefix.CopyTo(destination);
        Utf8Formatter.TryFormat(upTo, destination[AckPrefix.Length..], out var digits);
        destination[AckPrefix.Length + digits] = (byte)'}';
        return AckPrefix.Length + digits + 1;
    }

    /// <summary><c>{"type":"error","seq":N,"code":"...","message":"..."}</c></summary>
    public static byte[] Error(long sequence, string code, string message)
    {
        var buffer = new ArrayBufferWriter<byte>(128 + message.Length);
        using (var writer = new Utf8JsonWriter(buffer, WriterOptions))
        {
            writer.WriteStartObject();
            writer.WriteString("type"u8, "error"u8);
            writer.WriteNumber("seq"u8, sequence);
            writer.WriteString("code"u8, code);
            writer.WriteString("message"u8, message);
            writer.WriteEndObject();
        }

        return buffer.WrittenSpan.ToArray();
    }

    /// <summary><c>{"type":"draining","reconnectAfterMs":N}</c></summary>
    public static byte[] Draining(int reconnectAfterMs)
    {
        var buffer = new ArrayBufferWriter<byte>(64);
        using (var writer = new Utf8JsonWriter(buffer, WriterOptions))
        {
            writer.WriteStartObject();
            writer.WriteString("type"u8, "draining"u8);
            writer.WriteNumber("reconnectAfterMs"u8, reconnectAfterMs);
            writer.WriteEndObject();
        }

        return buffer.WrittenSpan.ToArray();
    }
}
