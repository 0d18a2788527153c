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

    /// <summary>A text message that is not UTF-8: close 1007, its bytes dead-lettered as invalid_utf8.</summary>
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

    /// <summary>How the connection ends.</summary>
    public WireEnd End { get; set; }

    /// <summary>
    /// When the gateway decides a message is too large, other ends that may beat its close frame:
    /// a fault the WebSocket layer finds in what follows (which the gateway reads only to drop it),
    /// or the stream's end. The message is still dead-lettered as message_too_large.
    /// </summary>
    public HashSet<WireEnd> AfterTooLarge { get; } = [];

    /// <summary>Whether the end came inside a data message, and what the server had read of it.</summary>
    public bool InMessage { get; set; }

    public bool PartialBinary { get; set; }

    public byte[] Partial { get; set; } = [];

    /// <summary>Whether the end came from the byte read past the size limit (to tell "exactly the limit" from "over it").</summary>
    public bool AtProbe { get; set; }

    /// <summary>Where the stream met a known flaw of the WebSocket layer (System.Net.WebSockets), which the model follows.</summary>
    public List<string> LayerFlaws { get; } = [];

    /// <summary>Whether the UTF-8 check of the ending message went on from an unfinished character the layer let through before.</summary>
    public bool InheritedUnfinished { get; set; }

    /// <summary>Pings the server read before the end: each must be answered by a pong with its payload.</summary>
    public List<byte[]> Pings { get; } = [];

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
/// chunk up to the size limit (its buffer is one array when the limit is at most 4 KiB), then one
/// byte more to see whether the message goes on.
/// </summary>
internal static class WireModel
{
    private const int MaskLength = 4;

    public static WireExpectation Expect(ReadOnlySpan<byte> input, int maxMessageBytes)
    {
        var expectation = new WireExpectation();
        var reader = new Reader(expectation, maxMessageBytes);
        var (end, rest) = reader.Read(input, 0, restOfFrame: 0);
        expectation.End = end;
        expectation.InMessage = reader.InMessage;
        expectation.PartialBinary = reader.Binary;
        expectation.Partial = [.. reader.Partial];
        expectation.AtProbe = reader.AtProbe;
        expectation.InheritedUnfinished = reader.InheritedUnfinished;
        if (end == WireEnd.TooLarge)
        {
            // The gateway's close (final ack, 1009) goes out while its reader drops what follows, which
            // the WebSocket layer still reads: a fault there, or the stream's end, may come first.
            expectation.Story.Append(" || dropped:");
            var (after, _) = reader.Read(input, rest.Position, rest.Remaining, dropping: true);
            if (after is not WireEnd.ClientClose)
            {
                expectation.AfterTooLarge.Add(after);
            }

            if (reader.CutInInvalidText)
            {
                expectation.AfterTooLarge.Add(WireEnd.Lost); // the layer reads a cut frame in pieces: the end may come first
            }
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
    /// (a flaw of System.Net.WebSockets: an empty final fragment skips the end-of-message check, and
    /// the unfinished character carries over into the next text message).
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
        private byte[] _mask = [0, 0, 0, 0]; // the oversize frame's, for the rest of it
        private int _maskOffset;
        private bool _fin;

        public bool InMessage { get; private set; }

        public bool Binary { get; private set; }

        public List<byte> Partial { get; } = [];

        public bool AtProbe { get; private set; }

        public bool InheritedUnfinished { get; private set; }

        /// <summary>Dropping: the stream was cut in a frame with text that is not UTF-8, which the layer may or may not have read whole.</summary>
        public bool CutInInvalidText { get; private set; }

        /// <summary>
        /// Reads frames from <paramref name="position"/> (the first <paramref name="restOfFrame"/>
        /// bytes there being the rest of the current data frame) to the end the stream comes to,
        /// and where that left the stream. Dropping (after the gateway decided 1009): no message is
        /// kept and no size limit applies, but the WebSocket layer still checks frames and text.
        /// </summary>
        public (WireEnd End, (int Position, long Remaining) After) Read(ReadOnlySpan<byte> input, int position, long restOfFrame, bool dropping = false)
        {
            var story = expectation.Story;
            var restPosition = position;
            long remaining = 0;

            (WireEnd, (int, long)) End(WireEnd end, string why)
            {
                story.Append(" | end: ").Append(why).Append(" -> ").Append(end);
                return (end, (restPosition, remaining));
            }

            if (dropping && InMessage)
            {
                // The rest of the oversize message's frame, read to be dropped; its text still checked.
                var taken = (int)Math.Min(restOfFrame, input.Length - position);
                if (!Binary && taken > 0 && !_utf8.Check(Unmask(input.Slice(position, taken), _mask, _maskOffset), endOfMessage: _fin && taken == restOfFrame))
                {
                    CutInInvalidText = taken < restOfFrame;
                    return End(WireEnd.InvalidUtf8, "dropped text that is not UTF-8");
                }

                position += taken;
                if (taken < restOfFrame)
                {
                    return End(WireEnd.Lost, "the stream ends in a data frame");
                }

                if (_fin)
                {
                    InMessage = false;
                }
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
                        return End(WireEnd.ProtocolError, "a close frame with a 1-byte payload");
                    }

                    if ((ulong)available < length)
                    {
                        return End(WireEnd.Lost, "the stream ends in a control frame");
                    }

                    var payload = Unmask(input.Slice(position, (int)length), mask, 0);
                    position += (int)length;
                    if (opcode == 9 && !dropping)
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
                            return End(WireEnd.ProtocolError, $"close status {status} is not one a client may send");
                        }

                        if (!IsUtf8(payload.AsSpan(2)))
                        {
                            return End(WireEnd.ProtocolError, "the close reason is not UTF-8");
                        }
                    }

                    return End(WireEnd.ClientClose, "the client's close frame");
                }

                if (opcode != 0)
                {
                    InMessage = true;
                    Binary = opcode == 2;
                    Partial.Clear();
                    InheritedUnfinished = !Binary && _utf8.Unfinished;
                }

                // The reader takes the frame in one chunk, up to the size limit (none when dropping).
                var before = Partial.Count;
                var chunk = (int)Math.Min(length, (ulong)Math.Max(0, (dropping ? int.MaxValue : maxMessageBytes) - before));
                if (available < chunk)
                {
                    if (dropping && !Binary && available > 0 && !_utf8.Check(Unmask(input.Slice(position, available), mask, 0), endOfMessage: false))
                    {
                        CutInInvalidText = true;
                        return End(WireEnd.InvalidUtf8, "dropped text that is not UTF-8, in a frame the stream cuts");
                    }

                    return End(WireEnd.Lost, "the stream ends in a data frame");
                }

                var bytes = Unmask(input.Slice(position, chunk), mask, 0);
                position += chunk;
                if (!dropping)
                {
                    Partial.AddRange(bytes);
                }

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
                    AtProbe = true;
                    if (!Binary && !_utf8.Check(probe, endOfMessage: fin && (ulong)chunk + 1 == length))
                    {
                        return End(WireEnd.InvalidUtf8, "text that is not UTF-8 in the byte past the limit");
                    }

                    AtProbe = false;
                    (restPosition, remaining, _mask, _maskOffset, _fin) = (position, (long)length - chunk - 1, mask.ToArray(), chunk + 1, fin);
                    return End(WireEnd.TooLarge, $"a message over {maxMessageBytes} bytes");
                }

                if (!fin)
                {
                    continue;
                }

                if (!Binary && chunk == 0 && _utf8.Unfinished)
                {
                    // The layer hands out an empty final fragment before its UTF-8 check: text ending
                    // mid-character gets through (RFC 6455 section 8.1 calls for 1007).
                    expectation.LayerFlaws.Add("an empty final fragment skips the end-of-message UTF-8 check");
                    story.Append(" (unfinished character let through)");
                }

                InMessage = false;
                if (!dropping)
                {
                    story.Append(" = message ").Append(expectation.Messages.Count + 1);
                    expectation.Messages.Add(new WireMessage(Binary, [.. Partial]));
                    Partial.Clear();
                }
            }
        }

    }
}

/// <summary>One frame the server wrote.</summary>
internal sealed record ServerWireFrame(int Opcode, byte[] Payload)
{
    public int CloseStatus => Opcode == 8 && Payload.Length >= 2 ? BinaryPrimitives.ReadUInt16BigEndian(Payload) : 0;

    public override string ToString() => Opcode switch
    {
        1 => Encoding.UTF8.GetString(Payload),
        8 => $"close {CloseStatus} '{Encoding.UTF8.GetString(Payload.AsSpan(Math.Min(2, Payload.Length)))}'",
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
