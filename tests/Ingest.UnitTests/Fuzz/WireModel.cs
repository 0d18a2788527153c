using System.Buffers;
using System.Buffers.Binary;
using System.Text;

namespace Ingest.UnitTests.Fuzz;

/// <summary>How a connection ends, as docs/protocol.md ("Close codes") names it.</summary>
internal enum WireEnd
{
    /// <summary>The client's close frame: final ack, close 1000.</summary>
    ClientClose,

    /// <summary>The client broke RFC 6455: close 1002, the message so far dead-lettered as protocol_error.</summary>
    ProtocolError,

    /// <summary>
    /// A text message that is not UTF-8: close 1007, its bytes dead-lettered as invalid_utf8. The
    /// WebSocket layer's close (no final ack), or the gateway's (final ack first) when the layer let
    /// the message through whole (see <see cref="WireExpectation.GatewayClosesInvalidUtf8"/>).
    /// </summary>
    InvalidUtf8,

    /// <summary>A message over the size limit: final ack, close 1009, its first bytes dead-lettered as message_too_large.</summary>
    TooLarge,

    /// <summary>The stream ended without a close (the network): no close frame.</summary>
    Lost,
}

/// <summary>One whole data message of the client's stream.</summary>
internal sealed record WireMessage(bool Binary, byte[] Payload);

/// <summary>What the server must make of a client's byte stream.</summary>
internal sealed class WireExpectation
{
    /// <summary>The whole data messages before the end, which the gateway numbers 1, 2, 3, ...</summary>
    public List<WireMessage> Messages { get; } = [];

    /// <summary>
    /// How the connection ends. When the gateway closes (1000, 1009, its own 1007) it reads nothing
    /// more until its close frame is out, so nothing in what follows can change the close code.
    /// </summary>
    public WireEnd End { get; set; }

    /// <summary>Whether the end came inside a data message, and what the server had read of it.</summary>
    public bool InMessage { get; set; }

    public bool PartialBinary { get; set; }

    public byte[] Partial { get; set; } = [];

    /// <summary>
    /// The end is a text message that ends inside a character and whose last frame is empty: the
    /// WebSocket layer hands an empty frame out before its end-of-message UTF-8 check (a flaw of
    /// System.Net.WebSockets), so the message reaches the gateway whole, and the gateway answers it
    /// as the text that is not UTF-8 it is: its bytes dead-lettered as invalid_utf8 (untracked, never
    /// acked), a final ack that does not cover it, then the gateway's own close 1007.
    /// </summary>
    public bool GatewayClosesInvalidUtf8 { get; set; }

    /// <summary>
    /// The end is the WebSocket layer failing the connection on an invalid close frame (a 1-byte
    /// payload, or a status a client may not send), a fault whose exception carries no message of
    /// its own (as the layer's UTF-8 failure does not).
    /// </summary>
    public bool SilentFault { get; set; }

    /// <summary>The text received of the ending message ends inside a character, as far as the layer's UTF-8 check has gone.</summary>
    public bool PartialUnfinished { get; set; }

    /// <summary>
    /// The one ambiguous corner of the dead letter's code: a text message whose bytes so far end
    /// (legitimately) in the middle of a character, cut by an invalid close frame. The layer closes
    /// with 1002; the gateway, told nothing by the layer's exception, finds text that is not UTF-8
    /// (an unfinished character counts) and dead-letters it as invalid_utf8. Either code is accepted
    /// there, and only there.
    /// </summary>
    public bool EitherDeadLetterCode => End == WireEnd.ProtocolError && InMessage && !PartialBinary && Partial.Length > 0 && SilentFault && PartialUnfinished;

    /// <summary>Whether the WebSocket layer, not the gateway, sent the close frame (1002, or its 1007).</summary>
    public bool LayerCloses => End == WireEnd.ProtocolError || (End == WireEnd.InvalidUtf8 && !GatewayClosesInvalidUtf8);

    /// <summary>Pings the server read before the end: each must be answered by a pong with its payload.</summary>
    public List<byte[]> Pings { get; } = [];

    /// <summary>Corners of the contract the stream reached (counted in the output, to show they are exercised).</summary>
    public List<string> Corners { get; } = [];

    /// <summary>The frames as the model read them, for failure messages.</summary>
    public StringBuilder Story { get; } = new();
}

/// <summary>
/// Reads a client's byte stream the way RFC 6455 and docs/protocol.md say a server must, without
/// the gateway's or .NET's code: frames and their masks, fragmentation, control frames, the close
/// handshake, UTF-8 of text messages, and the message size limit. Where the RFC leaves the timing
/// to the implementation, the model follows what the server's parts do, so that its answer is one:
/// the WebSocket layer reads room for a mask (2 + 4 bytes + the extended length) before it parses
/// a header, so a stream cut there is a lost connection; it checks UTF-8 as it hands out each
/// chunk of a frame (<see cref="LayerUtf8"/>); and the gateway's reader takes each frame in one
/// chunk up to the size limit (its buffer is one array when the limit is at most 4 KiB), then, at
/// the limit, reads past empty non-final frames to one byte more to see whether the message goes on.
/// The model stops at the end: when the gateway closes, it reads nothing until its close frame is
/// out, so what follows cannot change how the connection ended.
/// </summary>
internal static class WireModel
{
    private const int MaskLength = 4;

    public static WireExpectation Expect(ReadOnlySpan<byte> input, int maxMessageBytes)
    {
        var expectation = new WireExpectation();
        var reader = new Reader(expectation, maxMessageBytes);
        var end = reader.Read(input);
        expectation.End = end;
        expectation.InMessage = reader.InMessage;
        expectation.PartialBinary = reader.Binary;
        expectation.Partial = [.. reader.Partial];
        expectation.PartialUnfinished = reader.InMessage && !reader.Binary && reader.Unfinished;
        if (end is WireEnd.ProtocolError or WireEnd.InvalidUtf8 && !expectation.GatewayClosesInvalidUtf8 && reader.InMessage && reader.Partial.Count >= maxMessageBytes)
        {
            expectation.Corners.Add($"the layer fails the connection in the read past the limit ({end})");
        }

        if (expectation.EitherDeadLetterCode)
        {
            expectation.Corners.Add("an invalid close frame cuts text inside a character (either dead-letter code)");
        }

        return expectation;
    }

    /// <summary>
    /// Where the first sequence that is not UTF-8 (RFC 3629) starts, or -1; <paramref name="unfinished"/>
    /// when the text ends in the middle of a character (which the rest may complete).
    /// </summary>
    public static int FirstInvalidUtf8(ReadOnlySpan<byte> text, out bool unfinished)
    {
        unfinished = false;
        for (var i = 0; i < text.Length;)
        {
            switch (Rune.DecodeFromUtf8(text[i..], out _, out var consumed))
            {
                case OperationStatus.Done:
                    i += consumed;
                    break;
                case OperationStatus.NeedMoreData:
                    unfinished = true;
                    return -1;
                default:
                    return i;
            }
        }

        return -1;
    }

    public static bool IsUtf8(ReadOnlySpan<byte> text) => FirstInvalidUtf8(text, out var unfinished) < 0 && !unfinished;

    /// <summary>
    /// Close codes a client may send (RFC 6455 section 7.4): 1000-1003, 1007-1011 and the IANA
    /// registered 1012-1014, 3000-4999. Never 1004-1006, 1015, or anything else.
    /// </summary>
    public static bool IsValidCloseStatus(int status) =>
        status is (>= 1000 and <= 1003) or (>= 1007 and <= 1014) or (>= 3000 and <= 4999);

    public static string OpcodeName(int opcode) => opcode switch
    {
        0 => "continuation",
        1 => "text",
        2 => "binary",
        8 => "close",
        9 => "ping",
        10 => "pong",
        _ => $"opcode {opcode}",
    };

    private static byte[] Unmask(ReadOnlySpan<byte> payload, ReadOnlySpan<byte> mask, int offset)
    {
        var bytes = payload.ToArray();
        for (var i = 0; i < bytes.Length; i++)
        {
            bytes[i] ^= mask[(offset + i) & 3];
        }

        return bytes;
    }

    /// <summary>
    /// The WebSocket layer's UTF-8 check of text (RFC 6455 section 8.1), as it runs: over each chunk
    /// it hands out, carrying an unfinished character from one chunk to the next, failing at the
    /// byte that cannot continue a character (an overlong form only once it is complete), and at
    /// the end of a message that ends mid-character. An empty frame is handed out before the check
    /// (a flaw of System.Net.WebSockets: an empty final fragment skips the end-of-message check;
    /// the gateway makes up for it, see <see cref="WireExpectation.GatewayClosesInvalidUtf8"/>).
    /// </summary>
    private sealed class LayerUtf8
    {
        private int _expected; // continuation bytes still expected
        private int _bits;
        private int _minimum;

        public bool Unfinished => _expected > 0;

        public bool Check(ReadOnlySpan<byte> chunk, bool endOfMessage)
        {
            foreach (var b in chunk)
            {
                if (_expected == 0)
                {
                    if (b < 0x80)
                    {
                        continue;
                    }

                    (_expected, _bits, _minimum) = b switch
                    {
                        _ when (b & 0xE0) == 0xC0 => (1, b & 0x1F, 0x80),
                        _ when (b & 0xF0) == 0xE0 => (2, b & 0x0F, 0x800),
                        _ when (b & 0xF8) == 0xF0 => (3, b & 0x07, 0x10000),
                        _ => (-1, 0, 0), // a continuation byte, or 0xF8 and above
                    };
                    if (_expected < 0)
                    {
                        return false;
                    }

                    continue;
                }

                if ((b & 0xC0) != 0x80)
                {
                    return false;
                }

                _bits = (_bits << 6) | (b & 0x3F);
                _expected--;
                if ((_expected == 1 && _bits is >= 0x360 and <= 0x37F) || (_expected == 2 && _bits >= 0x110))
                {
                    return false; // a surrogate, or past U+10FFFF
                }

                if (_expected == 0 && _bits < _minimum)
                {
                    return false; // overlong
                }
            }

            return !endOfMessage || _expected == 0;
        }
    }

    /// <summary>One pass over the stream: the whole messages, and the end the stream comes to.</summary>
    private sealed class Reader(WireExpectation expectation, int maxMessageBytes)
    {
        private readonly LayerUtf8 _utf8 = new();
        private bool _emptyFramesAtLimit;

        public bool InMessage { get; private set; }

        public bool Binary { get; private set; }

        public List<byte> Partial { get; } = [];

        /// <summary>Whether the layer's UTF-8 check stands in the middle of a character.</summary>
        public bool Unfinished => _utf8.Unfinished;

        /// <summary>Reads frames from the start of the stream to the end it comes to.</summary>
        public WireEnd Read(ReadOnlySpan<byte> input)
        {
            var story = expectation.Story;
            var position = 0;

            WireEnd End(WireEnd end, string why)
            {
                story.Append(" | end: ").Append(why).Append(" -> ").Append(end);
                return end;
            }

            while (true)
            {
                var available = input.Length - position;
                if (available < 2)
                {
                    return End(WireEnd.Lost, available == 0 ? "the stream ends" : "the stream ends in a frame header");
                }

                var b0 = input[position];
                var b1 = input[position + 1];
                var length7 = b1 & 0x7F;
                var extension = length7 == 126 ? 2 : length7 == 127 ? 8 : 0;
                if (available < 2 + MaskLength + extension)
                {
                    return End(WireEnd.Lost, "the stream ends in a frame header");
                }

                var length = length7 switch
                {
                    126 => BinaryPrimitives.ReadUInt16BigEndian(input[(position + 2)..]),
                    127 => BinaryPrimitives.ReadUInt64BigEndian(input[(position + 2)..]),
                    _ => (ulong)length7,
                };
                var fin = (b0 & 0x80) != 0;
                var opcode = b0 & 0x0F;
                var masked = (b1 & 0x80) != 0;
                story.Append(" | ").Append(fin ? "fin " : "").Append(OpcodeName(opcode)).Append(' ').Append(length);
                var error =
                    (b0 & 0x70) != 0 ? "a reserved bit is set (no extension was negotiated)"
                    : length > long.MaxValue ? "a 64-bit length with its top bit set"
                    : !masked ? "a client frame that is not masked"
                    : opcode switch
                    {
                        0 when !InMessage => "a continuation frame outside a message",
                        1 or 2 when InMessage => "a new data frame inside a fragmented message",
                        8 or 9 or 10 when length > 125 || !fin => "a control frame over 125 bytes or fragmented",
                        0 or 1 or 2 or 8 or 9 or 10 => null,
                        _ => $"opcode {opcode} is not defined",
                    };
                if (error is not null)
                {
                    return End(WireEnd.ProtocolError, error);
                }

                var mask = input.Slice(position + 2 + extension, MaskLength);
                position += 2 + extension + MaskLength;
                available = input.Length - position;

                if (opcode >= 8)
                {
                    if (opcode == 8 && length == 1)
                    {
                        expectation.SilentFault = true;
                        return End(WireEnd.ProtocolError, "a close frame with a 1-byte payload");
                    }

                    if ((ulong)available < length)
                    {
                        return End(WireEnd.Lost, "the stream ends in a control frame");
                    }

                    var payload = Unmask(input.Slice(position, (int)length), mask, 0);
                    position += (int)length;
                    if (opcode == 9)
                    {
                        expectation.Pings.Add(payload);
                    }

                    if (opcode != 8)
                    {
                        continue;
                    }

                    if (length >= 2)
                    {
                        var status = BinaryPrimitives.ReadUInt16BigEndian(payload);
                        if (!IsValidCloseStatus(status))
                        {
                            expectation.SilentFault = true;
                            return End(WireEnd.ProtocolError, $"close status {status} is not one a client may send");
                        }

                        if (!IsUtf8(payload.AsSpan(2)))
                        {
                            return End(WireEnd.ProtocolError, "the close reason is not UTF-8"); // the layer's exception holds the decoder's
                        }
                    }

                    return End(WireEnd.ClientClose, "the client's close frame");
                }

                if (opcode != 0)
                {
                    InMessage = true;
                    Binary = opcode == 2;
                    Partial.Clear();
                    _emptyFramesAtLimit = false;
                }

                // The reader takes the frame in one chunk, up to the size limit.
                var before = Partial.Count;
                var chunk = (int)Math.Min(length, (ulong)Math.Max(0, maxMessageBytes - before));
                if (available < chunk)
                {
                    return End(WireEnd.Lost, "the stream ends in a data frame");
                }

                var bytes = Unmask(input.Slice(position, chunk), mask, 0);
                position += chunk;
                Partial.AddRange(bytes);

                var endsMessage = fin && (ulong)chunk == length;
                if (!Binary && chunk > 0 && !_utf8.Check(bytes, endsMessage))
                {
                    return End(WireEnd.InvalidUtf8, $"text that is not UTF-8 in the message's first {before + chunk} bytes");
                }

                if ((ulong)chunk < length)
                {
                    // Past the limit: the reader reads one byte more, then the message is too large.
                    if (available == chunk)
                    {
                        return End(WireEnd.Lost, "the stream ends in a data frame");
                    }

                    var probe = Unmask(input.Slice(position, 1), mask, chunk);
                    position++;
                    Partial.Add(probe[0]);
                    if (!Binary && !_utf8.Check(probe, endOfMessage: fin && (ulong)chunk + 1 == length))
                    {
                        return End(WireEnd.InvalidUtf8, "text that is not UTF-8 in the byte past the limit");
                    }

                    return End(WireEnd.TooLarge, $"a message over {maxMessageBytes} bytes");
                }

                if (length == 0 && before == maxMessageBytes)
                {
                    _emptyFramesAtLimit = true; // read past by the reader at the limit: the message may still be whole
                }

                if (!fin)
                {
                    continue;
                }

                if (!Binary && chunk == 0 && _utf8.Unfinished)
                {
                    // The layer hands out an empty final fragment before its UTF-8 check: the message
                    // comes whole to the gateway, which finds it ends inside a character.
                    expectation.GatewayClosesInvalidUtf8 = true;
                    expectation.Corners.Add("text ends inside a character, its last frame empty (the gateway closes 1007)");
                    return End(WireEnd.InvalidUtf8, $"text of {Partial.Count} bytes that ends inside a character, let through by the layer");
                }

                if (_emptyFramesAtLimit)
                {
                    expectation.Corners.Add("a message of exactly the limit, then empty frames (whole)");
                }

                InMessage = false;
                story.Append(" = message ").Append(expectation.Messages.Count + 1);
                expectation.Messages.Add(new WireMessage(Binary, [.. Partial]));
                Partial.Clear();
            }
        }
    }
}

/// <summary>One frame the server wrote.</summary>
internal sealed record ServerWireFrame(int Opcode, byte[] Payload)
{
    public int CloseStatus => Opcode == 8 && Payload.Length >= 2 ? BinaryPrimitives.ReadUInt16BigEndian(Payload) : 0;

    /// <summary>A close frame's reason.</summary>
    public string CloseReason => Opcode == 8 ? Encoding.UTF8.GetString(Payload.AsSpan(Math.Min(2, Payload.Length))) : "";

    public override string ToString() => Opcode switch
    {
        1 => Encoding.UTF8.GetString(Payload),
        8 => $"close {CloseStatus} '{CloseReason}'",
        _ => $"{WireModel.OpcodeName(Opcode)} {Convert.ToHexString(Payload)}",
    };

    /// <summary>
    /// The frames a server wrote, checked as RFC 6455 requires of a server: unmasked, not fragmented
    /// (the gateway sends every frame whole), no reserved bits, known opcodes, nothing cut short.
    /// </summary>
    public static List<ServerWireFrame> Parse(ReadOnlySpan<byte> output, out string? error)
    {
        var frames = new List<ServerWireFrame>();
        error = null;
        var position = 0;
        while (position < output.Length)
        {
            if (output.Length - position < 2)
            {
                error = "the server wrote half a frame header";
                return frames;
            }

            var b0 = output[position];
            var b1 = output[position + 1];
            var length7 = b1 & 0x7F;
            var extension = length7 == 126 ? 2 : length7 == 127 ? 8 : 0;
            if (output.Length - position < 2 + extension)
            {
                error = "the server wrote half a frame header";
                return frames;
            }

            var length = length7 switch
            {
                126 => BinaryPrimitives.ReadUInt16BigEndian(output[(position + 2)..]),
                127 => BinaryPrimitives.ReadUInt64BigEndian(output[(position + 2)..]),
                _ => (ulong)length7,
            };
            var opcode = b0 & 0x0F;
            position += 2 + extension;
            if ((b0 & 0x80) == 0 || (b0 & 0x70) != 0 || (b1 & 0x80) != 0 || opcode is not (1 or 8 or 9 or 10))
            {
                error = $"the server wrote a frame a server must not (byte 0x{b0:X2} 0x{b1:X2})";
                return frames;
            }

            if ((ulong)(output.Length - position) < length)
            {
                error = "the server wrote a frame cut short";
                return frames;
            }

            frames.Add(new ServerWireFrame(opcode, output.Slice(position, (int)length).ToArray()));
            position += (int)length;
        }

        return frames;
    }
}
