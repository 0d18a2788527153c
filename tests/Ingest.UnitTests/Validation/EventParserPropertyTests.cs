using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using Ingest.Gateway.Validation;

namespace Ingest.UnitTests.Validation;

/// <summary>
/// Generated inputs (seeded, so a failure reproduces): valid messages must parse with exact slices
/// and System.Text.Json's own decoding of <c>clientId</c>; mutated messages must get the verdict of
/// an independent oracle built on <see cref="JsonDocument"/>, and never an exception.
/// </summary>
public sealed class EventParserPropertyTests
{
    private readonly EventParser _parser = new();

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public void Parse_GeneratedValidMessages_ExactSlicesAndKeysAsSystemTextJsonDecodesThem(int seed)
    {
        var generator = new MessageGenerator(new Random(seed));
        for (var iteration = 0; iteration < 1500; iteration++)
        {
            var generated = generator.Message(batch: iteration % 3 != 0);

            var reason = _parser.Parse(generated.Bytes);

            Assert.True(reason == RejectReason.None, $"seed {seed}, iteration {iteration}: {reason} ({_parser.ErrorMessage}) for {generated}");
            Assert.Equal(generated.Events.Count, _parser.Events.Count);
            for (var i = 0; i < generated.Events.Count; i++)
            {
                var expected = generated.Events[i];
                var slice = _parser.Events[i];
                Assert.Equal(expected.Start, slice.Start);
                Assert.Equal(expected.Length, slice.Length);

                using var document = JsonDocument.Parse(generated.Bytes.AsMemory(slice.Start, slice.Length));
                var decoded = document.RootElement.GetProperty("clientId").GetString()!;
                Assert.Equal(expected.ClientId, decoded);
                Assert.Equal(Encoding.UTF8.GetBytes(decoded), slice.Key);
            }
        }
    }

    [Fact]
    public void Parse_GeneratedBatchWithOneBrokenEvent_RejectedWholeNamingThatEvent()
    {
        var random = new Random(4);
        var generator = new MessageGenerator(random);
        string[] breakages = ["\"clientId\":\"\"", "\"msg\":7", "\"timestamp\":-5", "\"timestamp\":1.5", "\"clientId\":null"];
        for (var iteration = 0; iteration < 500; iteration++)
        {
            var count = random.Next(1, 30);
            var broken = random.Next(count);
            var events = Enumerable.Range(0, count)
                .Select(i => i == broken
                    ? "{" + breakages[random.Next(breakages.Length)] + "," + generator.Event().Text[1..]
                    : generator.Event().Text);
            var message = Encoding.UTF8.GetBytes("[" + string.Join(",", events) + "]");

            Assert.Equal(RejectReason.InvalidEvent, _parser.Parse(message));

            Assert.Empty(_parser.Events);
            Assert.StartsWith($"event {broken}: ", _parser.ErrorMessage, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void Parse_EveryTruncationOfGeneratedMessages_InvalidJson()
    {
        var generator = new MessageGenerator(new Random(5), maxEventsPerBatch: 3);
        for (var iteration = 0; iteration < 60; iteration++)
        {
            var bytes = generator.Message(batch: iteration % 2 == 0).Bytes;
            var end = bytes.AsSpan().LastIndexOfAny((byte)'}', (byte)']') + 1;
            for (var length = 0; length < end; length++)
            {
                var prefix = bytes.AsSpan(0, length);

                var reason = _parser.Parse(prefix);

                Assert.True(reason == RejectReason.InvalidJson, $"iteration {iteration}, prefix of {length} bytes: {reason} for {Encoding.UTF8.GetString(prefix)}");
                Assert.Empty(_parser.Events);
            }
        }
    }

    [Theory]
    [InlineData(6)]
    [InlineData(7)]
    public void Parse_MutatedMessages_NeverThrowsAndAgreesWithJsonDocumentOracle(int seed)
    {
        var random = new Random(seed);
        var generator = new MessageGenerator(random, maxEventsPerBatch: 4);
        byte[] alphabet = "{}[]:,\"\\ 0123456789-+.eEtfnulr/u"u8.ToArray();
        var accepted = 0;
        for (var iteration = 0; iteration < 3000; iteration++)
        {
            var bytes = new List<byte>(generator.Message(batch: random.Next(2) == 0).Bytes);
            for (var mutations = random.Next(1, 4); mutations > 0 && bytes.Count > 0; mutations--)
            {
                var at = random.Next(bytes.Count);
                switch (random.Next(5))
                {
                    case 0: bytes[at] ^= (byte)(1 << random.Next(8)); break;
                    case 1: bytes[at] = alphabet[random.Next(alphabet.Length)]; break;
                    case 2: bytes.Insert(at, alphabet[random.Next(alphabet.Length)]); break;
                    case 3: bytes.RemoveAt(at); break;
                    default: bytes[at] = (byte)random.Next(256); break;
                }
            }

            var message = bytes.ToArray();
            RejectReason reason;
            try
            {
                reason = _parser.Parse(message);
            }
            catch (Exception e)
            {
                Assert.Fail($"seed {seed}, iteration {iteration}: Parse threw {e} for bytes {Convert.ToHexString(message)}");
                throw;
            }

            var expected = Oracle.Verdict(message, out var expectedEvents);
            Assert.True(expected == reason, $"seed {seed}, iteration {iteration}: expected {expected}, got {reason} ({_parser.ErrorMessage}) for bytes {Convert.ToHexString(message)}");
            if (reason != RejectReason.None)
            {
                Assert.Empty(_parser.Events);
                Assert.NotEmpty(_parser.ErrorMessage);
                continue;
            }

            accepted++;
            Assert.Equal(expectedEvents.Count, _parser.Events.Count);
            for (var i = 0; i < expectedEvents.Count; i++)
            {
                var slice = _parser.Events[i];
                Assert.Equal(expectedEvents[i].Raw, message.AsSpan(slice.Start, slice.Length).ToArray());
                Assert.Equal(expectedEvents[i].Key, slice.Key);
            }
        }

        // The oracle comparison means little unless some mutations still parse as valid.
        Assert.InRange(accepted, 100, 2900);
    }

    /// <summary>The contract's rules written a second way, over a <see cref="JsonDocument"/>.</summary>
    private static class Oracle
    {
        public static RejectReason Verdict(byte[] message, out List<(byte[] Raw, byte[] Key)> events)
        {
            events = [];
            JsonDocument document;
            try
            {
                document = JsonDocument.Parse(message);
            }
            catch (JsonException)
            {
                return RejectReason.InvalidJson;
            }

            using (document)
            {
                var root = document.RootElement;
                var elements = root.ValueKind switch
                {
                    JsonValueKind.Object => [root],
                    JsonValueKind.Array => root.EnumerateArray().ToList(),
                    _ => null,
                };
                if (elements is null || elements.Count == 0)
                {
                    return RejectReason.InvalidEvent;
                }

                if (elements.Count > EventParser.MaxBatchSize)
                {
                    return RejectReason.BatchTooLarge;
                }

                foreach (var element in elements)
                {
                    if (Key(element) is not { } key)
                    {
                        events.Clear();
                        return RejectReason.InvalidEvent;
                    }

                    events.Add((JsonMarshal.GetRawUtf8Value(element).ToArray(), key));
                }

                return RejectReason.None;
            }
        }

        /// <summary>The event's key when it is valid, else null.</summary>
        private static byte[]? Key(JsonElement element)
        {
            if (element.ValueKind != JsonValueKind.Object)
            {
                return null;
            }

            var properties = element.EnumerateObject().ToList();
            if (Single(properties, "clientId") is not { ValueKind: JsonValueKind.String } clientId
                || Single(properties, "msg") is not { ValueKind: JsonValueKind.String }
                || Single(properties, "timestamp") is not { ValueKind: JsonValueKind.Number } timestamp)
            {
                return null;
            }

            var raw = JsonMarshal.GetRawUtf8Value(timestamp);
            if (raw.IndexOfAny("."u8) >= 0 || raw.IndexOfAny("eE"u8) >= 0 || !timestamp.TryGetInt64(out var value) || value < 0)
            {
                return null;
            }

            string text;
            try
            {
                text = clientId.GetString()!;
            }
            catch (InvalidOperationException)
            {
                return null; // lone surrogate escape or invalid UTF-8
            }

            var scalars = text.EnumerateRunes().Count();
            return scalars is >= 1 and <= EventParser.MaxClientIdLength ? Encoding.UTF8.GetBytes(text) : null;
        }

        private static JsonElement? Single(List<JsonProperty> properties, string name)
        {
            var matches = properties.Where(p => NameEquals(p, name)).ToList();
            return matches.Count == 1 ? matches[0].Value : null;
        }

        private static bool NameEquals(JsonProperty property, string name)
        {
            try
            {
                return property.NameEquals(name);
            }
            catch (InvalidOperationException)
            {
                return false; // an unpaired surrogate escape: equal to no name of the contract
            }
        }
    }

    private sealed record GeneratedEvent(string Text, string ClientId);

    private sealed record GeneratedMessage(byte[] Bytes, List<(int Start, int Length, string ClientId)> Events)
    {
        public override string ToString() => Encoding.UTF8.GetString(Bytes);
    }

    /// <summary>Valid messages with random Unicode, escapes, white space, property order and extra properties.</summary>
    private sealed class MessageGenerator(Random random, int maxEventsPerBatch = 12)
    {
        private static readonly string[] WhiteSpace = ["", "", "", " ", "\n", "\r\n", "\t", "  \t "];

        public GeneratedMessage Message(bool batch)
        {
            var bytes = new List<byte>();
            var events = new List<(int, int, string)>();
            Append(bytes, Ws());
            if (batch)
            {
                Append(bytes, "[" + Ws());
            }

            var count = batch ? random.Next(1, maxEventsPerBatch + 1) : 1;
            for (var i = 0; i < count; i++)
            {
                if (i > 0)
                {
                    Append(bytes, Ws() + "," + Ws());
                }

                var generated = Event();
                var start = bytes.Count;
                Append(bytes, generated.Text);
                events.Add((start, bytes.Count - start, generated.ClientId));
            }

            if (batch)
            {
                Append(bytes, Ws() + "]");
            }

            Append(bytes, Ws());
            return new GeneratedMessage([.. bytes], events);
        }

        public GeneratedEvent Event()
        {
            var clientId = Text(random.Next(20) == 0 ? EventParser.MaxClientIdLength : random.Next(1, 24), minScalars: 1);
            var properties = new List<(string Name, string Value)>
            {
                ("clientId", JsonString(clientId)),
                ("msg", JsonString(Text(random.Next(0, 40), minScalars: 0))),
                ("timestamp", Timestamp()),
            };
            for (var extras = random.Next(0, 5); extras > 0; extras--)
            {
                var name = Text(random.Next(0, 10), minScalars: 0);
                if (name is not ("clientId" or "msg" or "timestamp"))
                {
                    properties.Add((name, Value(depth: 0)));
                }
            }

            // Shuffle the order; every name is written with random escapes, including the required ones.
            var shuffled = properties.OrderBy(_ => random.Next()).ToList();
            var text = new StringBuilder("{");
            for (var i = 0; i < shuffled.Count; i++)
            {
                text.Append(Ws()).Append(JsonString(shuffled[i].Name)).Append(Ws()).Append(':').Append(Ws()).Append(shuffled[i].Value).Append(Ws());
                if (i < shuffled.Count - 1)
                {
                    text.Append(',');
                }
            }

            return new GeneratedEvent(text.Append('}').ToString(), clientId);
        }

        private string Timestamp() => random.Next(6) switch
        {
            0 => "0",
            1 => long.MaxValue.ToString(CultureInfo.InvariantCulture),
            2 => random.Next(1000).ToString(CultureInfo.InvariantCulture),
            _ => random.NextInt64(0, long.MaxValue).ToString(CultureInfo.InvariantCulture),
        };

        private string Value(int depth) => random.Next(depth >= 3 ? 4 : 6) switch
        {
            0 => JsonString(Text(random.Next(0, 12), minScalars: 0)),
            1 => Number(),
            2 => random.Next(3) switch { 0 => "true", 1 => "false", _ => "null" },
            3 => JsonString(""),
            4 => "{" + string.Join(",", Enumerable.Range(0, random.Next(0, 4)).Select(_ => Ws() + JsonString(Text(random.Next(0, 10), 0)) + Ws() + ":" + Ws() + Value(depth + 1) + Ws())) + "}",
            _ => "[" + string.Join(",", Enumerable.Range(0, random.Next(0, 4)).Select(_ => Ws() + Value(depth + 1) + Ws())) + "]",
        };

        private string Number() => random.Next(5) switch
        {
            0 => random.Next(-1000, 1000).ToString(CultureInfo.InvariantCulture),
            1 => "-0.5e-7",
            2 => "1E+300",
            3 => random.NextDouble().ToString("R", CultureInfo.InvariantCulture),
            _ => "18446744073709551616",
        };

        private string Ws() => WhiteSpace[random.Next(WhiteSpace.Length)];

        /// <summary>Random Unicode scalar values: ASCII, controls, quotes and backslashes, BMP, astral.</summary>
        private string Text(int scalars, int minScalars)
        {
            var builder = new StringBuilder();
            for (var i = 0; i < Math.Max(scalars, minScalars); i++)
            {
                var rune = random.Next(20) switch
                {
                    < 9 => new Rune(random.Next(0x20, 0x7F)),
                    9 => new Rune(random.Next(0, 0x20)),
                    10 => new Rune("\"\\/"[random.Next(3)]),
                    11 or 12 => new Rune(random.Next(0x80, 0x800)),
                    13 or 14 or 15 => Bmp(),
                    _ => new Rune(random.Next(0x10000, 0x110000)),
                };
                builder.Append(rune.ToString());
            }

            return builder.ToString();
        }

        private Rune Bmp()
        {
            while (true)
            {
                var value = random.Next(0x800, 0x10000);
                if (!Rune.IsValid(value))
                {
                    continue; // surrogate code points are not scalar values
                }

                return new Rune(value);
            }
        }

        /// <summary>A JSON string literal whose characters are written raw or escaped at random.</summary>
        private string JsonString(string value) => JsonLiteral.Of(value, random.Next, escapeOneIn: 4);

        private static void Append(List<byte> bytes, string text) => bytes.AddRange(Encoding.UTF8.GetBytes(text));
    }
}
