using System.Buffers.Binary;
using System.Text;

namespace Ingest.UnitTests.Fuzz;

/// <summary>A client's byte stream and how it was made (for the outcome counts).</summary>
internal sealed record GeneratedStream(byte[] Bytes, string Shape);

/// <summary>
/// What a client may send a server on a WebSocket (RFC 6455 section 5), right and wrong: data
/// messages (events, batches, mutated JSON, sizes around the limit, text that is not UTF-8,
/// binary) in one frame or fragmented into continuation frames (some empty), masked with random
/// keys, lengths in the 7-, 16- and 64-bit forms, pings and pongs between fragments, a close frame
/// (valid or not) or none; then structural faults (reserved bits, undefined opcodes, unmasked
/// frames, continuation and data frames out of place, fragmented or oversize control frames,
/// impossible lengths, frames dropped, repeated or swapped) and raw ones (truncation, bit flips,
/// inserted and deleted bytes).
/// </summary>
internal sealed class FrameStreamGenerator(FuzzRandom random, int maxMessageBytes)
{
    private static readonly int[] ValidCloseCodes = [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 3999, 4000, 4999];
    private static readonly int[] InvalidCloseCodes = [0, 999, 1004, 1005, 1006, 1015, 1016, 2000, 2999, 5000, 65535];
    private static readonly int[] UndefinedOpcodes = [3, 4, 5, 6, 7, 11, 12, 13, 14, 15];

    private static readonly byte[][] NotUtf8 =
    [
        [0xFF], [0x80], [0xC0, 0x80], [0xC3, 0x28], [0xC3], [0xE2, 0x82], [0xE0, 0x80, 0x80], [0xED, 0xA0, 0x80],
        [0xF0, 0x8F, 0xBF, 0xBF], [0xF4, 0x90, 0x80, 0x80], [0xF5, 0x80], [0xF0, 0x9F, 0x98], [0xC3, 0x00],
    ];

    private readonly JsonMessageGenerator _json = new(random);
    private readonly List<Frame> _frames = [];
    private readonly List<string> _shape = [];

    public GeneratedStream Next()
    {
        var messages = random.Next(20) == 0 ? 0 : random.Next(1, 6);
        for (var i = 0; i < messages; i++)
        {
            Control();
            Message();
        }

        Control();
        if (random.Percent(70))
        {
            Close();
            if (random.Percent(15))
            {
                Message(); // after the close: never read
            }
        }
        else
        {
            _shape.Add("no close");
        }

        if (random.Percent(30))
        {
            for (var faults = random.Next(1, 3); faults > 0 && _frames.Count > 0; faults--)
            {
                Fault();
            }
        }

        var bytes = new List<byte>();
        foreach (var frame in _frames)
        {
            frame.WriteTo(bytes);
        }

        if (random.Percent(20))
        {
            Raw(bytes);
        }

        return new GeneratedStream([.. bytes], _shape.Count == 0 ? "plain" : string.Join(", ", _shape.Distinct()));
    }

    private void Message()
    {
        var binary = random.Percent(8);
        var payload = Payload();
        if (binary)
        {
            _shape.Add("binary");
        }

        // One frame, or fragments (some empty), with pings and pongs between them.
        var cuts = new List<int>();
        if (random.Percent(50))
        {
            for (var pieces = random.Next(1, 5); pieces > 0; pieces--)
            {
                cuts.Add(random.Percent(20) ? (random.Percent(50) ? 0 : payload.Length) : random.Next(payload.Length + 1));
            }

            cuts.Sort();
            _shape.Add("fragmented");
        }

        cuts.Add(payload.Length);
        var start = 0;
        for (var i = 0; i < cuts.Count; i++)
        {
            if (i > 0)
            {
                Control();
            }

            var opcode = i == 0 ? (binary ? 2 : 1) : 0;
            _frames.Add(Data(opcode, fin: i == cuts.Count - 1, payload[start..cuts[i]]));
            start = cuts[i];
        }
    }

    /// <summary>
    /// A message's payload. Mostly valid events and batches that fit the limit (so that streams go
    /// on for several messages), the rest mutated, around or over the limit, not UTF-8, or random.
    /// </summary>
    private byte[] Payload()
    {
        switch (random.Next(100))
        {
            case < 50:
                var json = Encoding.UTF8.GetBytes(random.Percent(75) ? _json.Event() : _json.Batch(random.Next(1, 4)));
                return json.Length <= maxMessageBytes
                    ? json
                    : Encoding.UTF8.GetBytes(_json.EventOfSize(random.Next(Math.Min(60, maxMessageBytes), maxMessageBytes + 1), clientId: "c1"));
            case < 66:
                _shape.Add("mutated JSON");
                return _json.Mutated().Bytes;
            case < 78:
                _shape.Add("size around the limit");
                var size = maxMessageBytes + random.Pick([-2, -1, 0, 0, 0, 1, 1, 2]);
                return Encoding.UTF8.GetBytes(_json.EventOfSize(size, clientId: "c1"));
            case < 86:
                _shape.Add("text not UTF-8");
                var text = new List<byte>(Encoding.UTF8.GetBytes(_json.EventOfSize(random.Next(0, maxMessageBytes), clientId: "c1")));
                text.InsertRange(random.Percent(30) ? text.Count : random.Next(text.Count + 1), random.Pick(NotUtf8));
                return [.. text];
            case < 91:
                _shape.Add("random bytes");
                return _json.RandomBytes(random.Next(0, maxMessageBytes + 8));
            case < 95:
                return [];
            default:
                _shape.Add("over the limit");
                return Encoding.UTF8.GetBytes(_json.EventOfSize(random.Next(maxMessageBytes + 1, 4 * maxMessageBytes)));
        }
    }

    /// <summary>Now and then a ping or a pong (control frames may come between fragments).</summary>
    private void Control()
    {
        var roll = random.Next(100);
        if (roll < 12)
        {
            _frames.Add(new Frame(true, 0, 9, random.Percent(5) ? _json.RandomBytes(125) : _json.RandomBytes(random.Next(0, 9)), Key()));
            _shape.Add("ping");
        }
        else if (roll < 16)
        {
            _frames.Add(new Frame(true, 0, 10, _json.RandomBytes(random.Next(0, 9)), Key()));
            _shape.Add("pong");
        }
    }

    private void Close()
    {
        var roll = random.Next(100);
        byte[] payload;
        if (roll < 15)
        {
            payload = [];
        }
        else if (roll < 18)
        {
            payload = [3];
            _shape.Add("close of 1 byte");
        }
        else
        {
            var invalid = random.Percent(15);
            var status = invalid ? random.Pick(InvalidCloseCodes) : random.Pick(ValidCloseCodes);
            var reason = random.Next(100) switch
            {
                < 70 => [],
                < 95 => Encoding.UTF8.GetBytes(_json.Text(random.Next(0, 20))),
                _ => random.Pick(NotUtf8),
            };
            payload = new byte[2 + Math.Min(reason.Length, 123)];
            BinaryPrimitives.WriteUInt16BigEndian(payload, (ushort)status);
            reason.AsSpan(0, payload.Length - 2).CopyTo(payload.AsSpan(2));
            if (invalid)
            {
                _shape.Add("invalid close status");
            }
        }

        _frames.Add(new Frame(true, 0, 8, payload, Key()));
    }

    /// <summary>A fault in one frame, or in the order of frames.</summary>
    private void Fault()
    {
        var index = random.Next(_frames.Count);
        var frame = _frames[index];
        switch (random.Next(12))
        {
            case 0:
                frame.Rsv = random.Pick([0x40, 0x20, 0x10]);
                _shape.Add("fault: reserved bit");
                break;
            case 1:
                frame.Opcode = random.Pick(UndefinedOpcodes);
                _shape.Add("fault: undefined opcode");
                break;
            case 2:
                frame.Opcode = frame.Opcode == 0 ? 1 : 0;
                _shape.Add("fault: data opcode out of place");
                break;
            case 3:
                frame.Fin = !frame.Fin;
                _shape.Add(frame.Opcode >= 8 ? "fault: fragmented control frame" : "fault: FIN flipped");
                break;
            case 4:
                frame.Key = null;
                _shape.Add("fault: unmasked frame");
                break;
            case 5:
                _frames.Insert(index, new Frame(true, 0, random.Pick([8, 9, 10]), _json.RandomBytes(random.Next(126, 140)), Key()));
                _shape.Add("fault: control frame over 125 bytes");
                break;
            case 6:
                frame.Length = random.Pick([ulong.MaxValue, 1UL << 63, 1UL << 40, (ulong)frame.Payload.Length + (ulong)random.Next(1, 4), (ulong)Math.Max(0, frame.Payload.Length - random.Next(1, 4))]);
                _shape.Add("fault: length");
                break;
            case 7:
                _frames.RemoveAt(index);
                _shape.Add("fault: frame dropped");
                break;
            case 8:
                _frames.Insert(index, frame.Copy());
                _shape.Add("fault: frame repeated");
                break;
            case 9 when index + 1 < _frames.Count:
                (_frames[index], _frames[index + 1]) = (_frames[index + 1], frame);
                _shape.Add("fault: frames swapped");
                break;
            case 10 when frame.Opcode is 0 or 1:
                var payload = new List<byte>(frame.Payload);
                payload.InsertRange(random.Next(payload.Count + 1), random.Pick(NotUtf8));
                frame.Payload = [.. payload];
                _shape.Add("fault: not UTF-8 in a fragment");
                break;
            default:
                frame.LengthForm = random.Pick([16, 64]);
                _shape.Add("longer length form");
                break;
        }
    }

    /// <summary>Cuts, flips, inserts or deletes bytes anywhere in the stream.</summary>
    private void Raw(List<byte> bytes)
    {
        var at = random.Next(bytes.Count + 1);
        switch (random.Next(4))
        {
            case 0:
                bytes.RemoveRange(at, bytes.Count - at);
                _shape.Add("raw: truncated");
                break;
            case 1 when bytes.Count > 0:
                bytes[Math.Min(at, bytes.Count - 1)] ^= (byte)(1 << random.Next(8));
                _shape.Add("raw: bit flipped");
                break;
            case 2:
                bytes.InsertRange(at, _json.RandomBytes(random.Next(1, 9)));
                _shape.Add("raw: bytes inserted");
                break;
            default:
                bytes.RemoveRange(at, Math.Min(random.Next(1, 9), bytes.Count - at));
                _shape.Add("raw: bytes deleted");
                break;
        }
    }

    private Frame Data(int opcode, bool fin, byte[] payload)
    {
        var frame = new Frame(fin, 0, opcode, payload, Key());
        if (random.Percent(12))
        {
            frame.LengthForm = payload.Length <= ushort.MaxValue && random.Percent(50) ? 16 : 64;
            _shape.Add("longer length form");
        }

        return frame;
    }

    /// <summary>A masking key: random, sometimes all zero (which masks nothing).</summary>
    private byte[] Key() => random.Percent(10) ? new byte[4] : _json.RandomBytes(4);

    /// <summary>One frame to write; <see cref="Key"/> null writes it unmasked.</summary>
    private sealed class Frame(bool fin, int rsv, int opcode, byte[] payload, byte[]? key)
    {
        public bool Fin { get; set; } = fin;

        public int Rsv { get; set; } = rsv;

        public int Opcode { get; set; } = opcode;

        public byte[] Payload { get; set; } = payload;

        public byte[]? Key { get; set; } = key;

        /// <summary>7 (the shortest form that fits), 16 or 64.</summary>
        public int LengthForm { get; set; } = 7;

        /// <summary>A length to write instead of the payload's.</summary>
        public ulong? Length { get; set; }

        public Frame Copy() => new(Fin, Rsv, Opcode, Payload, Key) { LengthForm = LengthForm, Length = Length };

        public void WriteTo(List<byte> bytes)
        {
            bytes.Add((byte)((Fin ? 0x80 : 0) | Rsv | Opcode));
            var length = Length ?? (ulong)Payload.Length;
            var form = length > ushort.MaxValue ? 64 : length > 125 ? Math.Max(LengthForm, 16) : LengthForm;
            var maskBit = Key is null ? 0 : 0x80;
            Span<byte> extended = stackalloc byte[8];
            switch (form)
            {
                case 7:
                    bytes.Add((byte)(maskBit | (int)length));
                    break;
                case 16:
                    bytes.Add((byte)(maskBit | 126));
                    BinaryPrimitives.WriteUInt16BigEndian(extended, (ushort)length);
                    bytes.AddRange(extended[..2]);
                    break;
                default:
                    bytes.Add((byte)(maskBit | 127));
                    BinaryPrimitives.WriteUInt64BigEndian(extended, length);
                    bytes.AddRange(extended);
                    break;
            }

            if (Key is null)
            {
                bytes.AddRange(Payload);
                return;
            }

            bytes.AddRange(Key);
            for (var i = 0; i < Payload.Length; i++)
            {
                bytes.Add((byte)(Payload[i] ^ Key[i & 3]));
            }
        }
    }
}
