using System.Buffers.Binary;

namespace Ingest.IntegrationTests.Observability;

/// <summary>One field of a protobuf message: its number, wire type and value (a varint, a fixed number, or the bytes of a length-delimited field).</summary>
internal readonly record struct ProtobufField(int Number, int WireType, ulong Scalar, ReadOnlyMemory<byte> Bytes);

/// <summary>
/// The protobuf wire format (protobuf.dev, "Encoding"), read by hand: OTLP's request messages are
/// walked field by field, with no generated types (OpenTelemetry.Proto is not served).
/// </summary>
internal static class ProtobufReader
{
    public const int Varint = 0;
    public const int Fixed64 = 1;
    public const int LengthDelimited = 2;
    public const int Fixed32 = 5;

    /// <summary>Every field of one message, in order; throws on a wire type OTLP does not use or on a truncated message.</summary>
    public static List<ProtobufField> Fields(ReadOnlyMemory<byte> message)
    {
        var fields = new List<ProtobufField>();
        var position = 0;
        var span = message.Span;
        while (position < span.Length)
        {
            var key = ReadVarint(span, ref position);
            var number = (int)(key >> 3);
            var wireType = (int)(key & 7);
            switch (wireType)
            {
                case Varint:
                    fields.Add(new ProtobufField(number, wireType, ReadVarint(span, ref position), default));
                    break;
                case Fixed64:
                    fields.Add(new ProtobufField(number, wireType, BinaryPrimitives.ReadUInt64LittleEndian(span.Slice(position, 8)), default));
                    position += 8;
                    break;
                case LengthDelimited:
                    var length = checked((int)ReadVarint(span, ref position));
                    fields.Add(new ProtobufField(number, wireType, 0, message.Slice(position, length)));
                    position += length;
                    break;
                case Fixed32:
                    fields.Add(new ProtobufField(number, wireType, BinaryPrimitives.ReadUInt32LittleEndian(span.Slice(position, 4)), default));
                    position += 4;
                    break;
                default:
                    throw new FormatException($"wire type {wireType} of field {number} at byte {position}");
            }
        }

        return fields;
    }

    /// <summary>The length-delimited fields numbered <paramref name="number"/> (embedded messages, strings, bytes).</summary>
    public static IEnumerable<ReadOnlyMemory<byte>> Embedded(ReadOnlyMemory<byte> message, int number) =>
        Fields(message).Where(f => f.Number == number && f.WireType == LengthDelimited).Select(f => f.Bytes);

    public static string String(ReadOnlyMemory<byte> message, int number) =>
        Embedded(message, number).Select(b => System.Text.Encoding.UTF8.GetString(b.Span)).LastOrDefault() ?? "";

    /// <summary>A bytes field as lowercase hex (trace and span ids); empty when absent.</summary>
    public static string Hex(ReadOnlyMemory<byte> message, int number) =>
        Embedded(message, number).Select(b => Convert.ToHexStringLower(b.Span)).LastOrDefault() ?? "";

    private static ulong ReadVarint(ReadOnlySpan<byte> span, ref int position)
    {
        ulong value = 0;
        for (var shift = 0; shift < 64; shift += 7)
        {
            var b = span[position++];
            value |= (ulong)(b & 0x7F) << shift;
            if (b < 0x80)
            {
                return value;
            }
        }

        throw new FormatException("varint longer than 10 bytes");
    }
}
