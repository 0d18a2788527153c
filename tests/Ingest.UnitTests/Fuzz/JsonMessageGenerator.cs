using System.Globalization;
using System.Text;
using Ingest.UnitTests.Validation;

namespace Ingest.UnitTests.Fuzz;

/// <summary>One generated data message and how it was made (for the outcome counts).</summary>
internal sealed record GeneratedMessage(byte[] Bytes, bool Binary, string Shape);

/// <summary>
/// Data messages for the contract: valid events and batches (random Unicode, escapes, white space,
/// property order, extra properties), then structural mutations (missing, duplicated and escaped
/// keys, wrong types, huge and fractional timestamps, clientId lengths around 256, unpaired
/// surrogate escapes, nesting around the 64-level event limit and the 1024-level message limit,
/// batches around 1000 elements, scalars, empty messages) and byte mutations (bit flips, random
/// and JSON-significant bytes, bytes that are not UTF-8, insertion, deletion, truncation, splices).
/// </summary>
internal sealed class JsonMessageGenerator(FuzzRandom random, string? preferredClientId = null)
{
    private static readonly string[] WhiteSpace = ["", "", "", "", " ", "\n", "\r\n", "\t", "  "];
    private static readonly string[] ClientIds = ["c1", "client 1", "c2", "ü", "😀", "a\"b", "x\\y", "\u00e9t\u00e9", "Z"];
    private static readonly byte[] JsonBytes = "{}[]:,\"\\ 0123456789-+.eEtfnulrs/"u8.ToArray();

    private static readonly byte[][] NotUtf8 =
    [
        [0xFF], [0xFE], [0x80], [0xBF], [0xC0, 0x80], [0xC1, 0xBF], [0xC3], [0xC3, 0x28], [0xE2, 0x82], [0xE0, 0x80, 0x80],
        [0xED, 0xA0, 0x80], [0xED, 0xBF, 0xBF], [0xF0, 0x8F, 0xBF, 0xBF], [0xF4, 0x90, 0x80, 0x80], [0xF5, 0x80, 0x80, 0x80], [0xF0, 0x9F, 0x98],
    ];

    private static readonly string[] BadTimestamps =
    [
        "-1", "9223372036854775808", "18446744073709551616", "123456789012345678901234567890", "1.5", "1.0", "1e3", "1E+3", "0.0",
        "-0.0", "1e-7", "\"1\"", "null", "true", "[1]", "{}", "-9223372036854775808", "01", "+1", "NaN", "1_000",
    ];

    private static readonly string[] EdgeTimestamps = ["0", "-0", "9223372036854775807", "9223372036854775806", "1", "1456862575765"];

    private static readonly string[] Scalars =
    [
        "1", "-1", "0", "1.5e300", "\"x\"", "\"\"", "null", "true", "false", "[]", "{}", "[1]", "[[]]", "[null]", "[\"a\"]", "[{}]",
        "[{},{}]", "", " ", "\n", "\t\r\n ", "{", "}", "[", "]", "{\"a\":1}{}", "[1,]", "{\"a\":1,}", "{'a':1}", "/**/{}", "\uFEFF{}",
    ];

    /// <summary>The next message of the mix the session fuzz test runs.</summary>
    public GeneratedMessage Next()
    {
        var roll = random.Next(1000);
        return roll switch
        {
            < 260 => Text(Event(), "valid event"),
            < 400 => Text(Batch(random.Next(1, 16)), "valid batch"),
            < 650 => Structural(),
            < 900 => Mutated(),
            < 935 => Special(),
            < 960 => Deep(),
            < 975 => AroundTheBatchLimit(),
            _ => new GeneratedMessage(random.Percent(50) ? Encoding.UTF8.GetBytes(Event()) : RandomBytes(random.Next(0, 40)), Binary: true, "binary"),
        };
    }

    /// <summary>A valid event, written one of many equivalent ways.</summary>
    public string Event(string? clientId = null, int extras = -1)
    {
        var properties = new List<(string Name, string Value)>
        {
            ("clientId", JsonString(clientId ?? ClientId())),
            ("msg", JsonString(Text(random.Next(0, 24)))),
            ("timestamp", Timestamp()),
        };
        AddExtras(properties, extras < 0 ? random.Next(0, 4) : extras);
        return Object(properties);
    }

    /// <summary>A valid batch of <paramref name="count"/> events.</summary>
    public string Batch(int count)
    {
        var builder = new StringBuilder("[").Append(Ws());
        for (var i = 0; i < count; i++)
        {
            builder.Append(i == 0 ? "" : Ws() + "," + Ws()).Append(Event());
        }

        return builder.Append(Ws()).Append(']').ToString();
    }

    /// <summary>A message whose bytes are changed at random: mostly invalid JSON, sometimes still valid.</summary>
    public GeneratedMessage Mutated()
    {
        var bytes = new List<byte>(Encoding.UTF8.GetBytes(random.Percent(60) ? Event() : Batch(random.Next(1, 5))));
        var shape = "byte mutation";
        for (var mutations = random.Next(1, 4); mutations > 0; mutations--)
        {
            var at = random.Next(bytes.Count + 1);
            var inside = Math.Min(at, Math.Max(bytes.Count - 1, 0));
            switch (random.Next(9))
            {
                case 0 when bytes.Count > 0:
                    bytes[inside] ^= (byte)(1 << random.Next(8));
                    break;
                case 1 when bytes.Count > 0:
                    bytes[inside] = random.Pick(JsonBytes);
                    break;
                case 2:
                    bytes.Insert(at, random.Pick(JsonBytes));
                    break;
                case 3:
                    bytes.InsertRange(at, RandomBytes(random.Next(1, 5)));
                    break;
                case 4:
                    // Bytes that are not UTF-8, best inside a string so that they survive as JSON.
                    var quote = bytes.IndexOf((byte)'"', inside);
                    bytes.InsertRange(quote >= 0 ? quote + 1 : at, random.Pick(NotUtf8));
                    shape = "not UTF-8";
                    break;
                case 5 when bytes.Count > 0:
                    bytes.RemoveRange(inside, Math.Min(random.Next(1, 4), bytes.Count - inside));
                    break;
                case 6:
                    bytes.RemoveRange(at, bytes.Count - at); // truncation
                    break;
                case 7 when bytes.Count > 0:
                    var length = Math.Min(random.Next(1, 12), bytes.Count - inside);
                    bytes.InsertRange(random.Next(bytes.Count + 1), bytes.GetRange(inside, length)); // a duplicated slice
                    break;
                default:
                    bytes.InsertRange(at, Encoding.UTF8.GetBytes(Ws() + random.Pick(Scalars) + Ws()));
                    break;
            }
        }

        return new GeneratedMessage([.. bytes], Binary: false, shape);
    }

    /// <summary>
    /// A valid event, padded in its <c>msg</c> to exactly <paramref name="size"/> bytes when it can be
    /// (at least the bare event's size).
    /// </summary>
    public string EventOfSize(int size, string? clientId = null)
    {
        var prefix = "{\"msg\":\"";
        var suffix = $"\",\"clientId\":{JsonString(clientId ?? ClientId(), escape: false)},\"timestamp\":{random.Next(0, 100000)}}}";
        var fixedBytes = Encoding.UTF8.GetByteCount(prefix) + Encoding.UTF8.GetByteCount(suffix);
        return prefix + new string('x', Math.Max(0, size - fixedBytes)) + suffix;
    }

    public string Ws() => random.Pick(WhiteSpace);

    public byte[] RandomBytes(int count)
    {
        var bytes = new byte[count];
        random.Fill(bytes);
        return bytes;
    }

    /// <summary>A clientId: often the preferred one (the connection's token), else from a pool or random.</summary>
    public string ClientId() => random.Next(10) switch
    {
        < 3 when preferredClientId is not null => preferredClientId,
        < 6 => random.Pick(ClientIds),
        6 when random.OneIn(4) => Text(256, surrogatePairs: true),
        _ => Text(random.Next(1, 20)),
    };

    /// <summary>Random Unicode scalar values: ASCII, controls, quotes and backslashes, BMP, astral.</summary>
    public string Text(int scalars, bool surrogatePairs = false)
    {
        var builder = new StringBuilder(scalars);
        for (var i = 0; i < scalars; i++)
        {
            var rune = (surrogatePairs ? 15 : random.Next(20)) switch
            {
                < 10 => new Rune(random.Next(0x20, 0x7F)),
                10 => new Rune(random.Next(0, 0x20)),
                11 => new Rune("\"\\/"[random.Next(3)]),
                12 => new Rune(random.Next(0x80, 0x800)),
                13 or 14 => Bmp(),
                _ => new Rune(random.Next(0x10000, 0x110000)),
            };
            builder.Append(rune.ToString());
        }

        return builder.ToString();
    }

    /// <summary>A JSON string literal whose characters are written raw or (with <paramref name="escape"/>) escaped at random.</summary>
    public string JsonString(string value, bool escape = true) => JsonLiteral.Of(value, random.Next, escape ? 5 : 0);

    private static GeneratedMessage Text(string json, string shape) => new(Encoding.UTF8.GetBytes(json), Binary: false, shape);

    /// <summary>An event (or a batch holding one) with one or two contract-level faults, or an edge that is still valid.</summary>
    private GeneratedMessage Structural()
    {
        var properties = new List<(string Name, string Value)>
        {
            ("clientId", JsonString(ClientId())),
            ("msg", JsonString(Text(random.Next(0, 12)))),
            ("timestamp", Timestamp()),
        };
        AddExtras(properties, random.Next(0, 3));
        string shape;
        var faults = random.Next(1, 3);
        do
        {
            var required = random.Next(3);
            var name = required switch { 0 => "clientId", 1 => "msg", _ => "timestamp" };
            var index = properties.FindIndex(p => p.Name == name);
            switch (random.Next(12))
            {
                case 0:
                    if (index >= 0)
                    {
                        properties.RemoveAt(index);
                    }

                    shape = "missing property";
                    break;
                case 1:
                    // The same name again, perhaps escaped differently, with a valid or an invalid value.
                    properties.Add((name, required switch { 0 => JsonString(ClientId()), 1 => JsonString("m"), _ => Timestamp() }));
                    shape = "duplicate property";
                    break;
                case 2:
                    properties.Add((name, random.Pick(Scalars) is { Length: > 0 } scalar && !scalar.Contains('\uFEFF', StringComparison.Ordinal) && !scalar.Contains('/', StringComparison.Ordinal) ? scalar : "0"));
                    properties.RemoveAt(Math.Max(index, 0));
                    shape = "wrong type";
                    break;
                case 3:
                    SetValue(properties, "timestamp", random.Pick(BadTimestamps));
                    shape = "bad timestamp";
                    break;
                case 4:
                    SetValue(properties, "timestamp", random.Pick(EdgeTimestamps));
                    shape = "edge timestamp";
                    break;
                case 5:
                    SetValue(properties, "clientId", JsonString(Text(random.Pick([0, 255, 256, 257, 300]), surrogatePairs: random.Percent(50))));
                    shape = "clientId length";
                    break;
                case 6:
                    var surrogate = random.Pick(["\\ud800", "\\udc00", "\\uD83D", "\\ude00\\ud83d", "\\ud83d\\ude00", "a\\ud800b", "\\ud800\\u0041"]);
                    var where = random.Next(3);
                    if (where == 0)
                    {
                        SetValue(properties, "clientId", "\"" + surrogate + "\"");
                    }
                    else if (where == 1)
                    {
                        SetValue(properties, "msg", "\"" + surrogate + "\"");
                    }
                    else
                    {
                        properties.Add(("\u0001" + surrogate, "1")); // a raw name, written below as is
                    }

                    shape = "surrogate escapes";
                    break;
                case 7:
                    // Escaped names of the contract's properties: they are the same properties.
                    var escaped = name.Replace("t", "\\u0074", StringComparison.Ordinal).Replace("m", "\\u006D", StringComparison.Ordinal).Replace("c", "\\u0063", StringComparison.Ordinal);
                    if (index >= 0)
                    {
                        properties[index] = ("\u0001" + escaped, properties[index].Value);
                    }

                    shape = "escaped names";
                    break;
                case 8:
                    properties.Add((Text(random.Next(1, 4)), Nested(random.Next(60, 67) - 1)));
                    shape = "event depth";
                    break;
                case 9:
                    properties.Add((name.ToUpperInvariant(), JsonString("x")));
                    shape = "near-miss names";
                    break;
                case 10:
                    SetValue(properties, "msg", JsonString(Text(random.Next(100, 400))));
                    shape = "long msg";
                    break;
                default:
                    properties.Add(("clientId\u0000", JsonString("y"))); // a name with NUL after it: another property
                    shape = "near-miss names";
                    break;
            }
        }
        while (--faults > 0);

        var json = Object(properties);
        if (random.Percent(30))
        {
            var count = random.Next(1, 6);
            var at = random.Next(count);
            json = "[" + string.Join("," + Ws(), Enumerable.Range(0, count).Select(i => i == at ? json : Event())) + "]";
            shape += " in batch";
        }

        return Text(json, shape);
    }

    /// <summary>Scalars, empty and white-space messages, and near-JSON.</summary>
    private GeneratedMessage Special() => Text(Ws() + random.Pick(Scalars) + Ws(), "special");

    /// <summary>Nesting around the message limit (1024 levels) and the event limit (64 levels).</summary>
    private GeneratedMessage Deep()
    {
        if (random.Percent(50))
        {
            // An event of 62 to 66 levels, alone or in a batch (whose array does not count).
            var eventJson = Object(
            [
                ("clientId", JsonString("c1")), ("msg", "\"m\""), ("timestamp", "1"),
                ("deep", Nested(random.Next(61, 66))),
            ]);
            return Text(random.Percent(50) ? eventJson : "[" + Event() + "," + eventJson + "]", "event depth");
        }

        // A message of 1022 to 1026 levels: arrays around an event, or an event whose value nests.
        var levels = random.Next(1022, 1027);
        var json = random.Percent(50)
            ? new string('[', levels - 1) + Event() + new string(']', levels - 1)
            : "[" + Object([("clientId", "\"c\""), ("msg", "\"m\""), ("timestamp", "1"), ("x", Nested(levels - 2))]) + "]";
        return Text(json, "message depth");
    }

    /// <summary>Batches of 998 to 1002 elements (small events, to stay cheap), sometimes with a fault.</summary>
    private GeneratedMessage AroundTheBatchLimit()
    {
        var count = random.Next(998, 1003);
        var small = "{\"msg\":\"\",\"clientId\":\"c1\",\"timestamp\":0}";
        var elements = Enumerable.Repeat(small, count).ToArray();
        var shape = "batch of ~1000";
        if (random.Percent(30))
        {
            elements[random.Next(count)] = random.Pick(["1", "{}", "[]", "{\"msg\":\"\",\"clientId\":\"c1\",\"timestamp\":-1}"]);
            shape = "batch of ~1000 with a fault";
        }

        return Text("[" + string.Join(",", elements) + "]", shape);
    }

    private string Timestamp() => random.Next(6) switch
    {
        0 => random.Pick(EdgeTimestamps),
        1 => random.Next(100000).ToString(CultureInfo.InvariantCulture),
        _ => random.NextInt64(0, long.MaxValue).ToString(CultureInfo.InvariantCulture),
    };

    private void AddExtras(List<(string Name, string Value)> properties, int count)
    {
        for (var i = 0; i < count; i++)
        {
            var name = Text(random.Next(0, 8));
            if (name is not ("clientId" or "msg" or "timestamp"))
            {
                properties.Insert(random.Next(properties.Count + 1), (name, Value(0)));
            }
        }
    }

    private string Value(int depth) => random.Next(depth >= 3 ? 4 : 6) switch
    {
        0 => JsonString(Text(random.Next(0, 10))),
        1 => random.Pick(["0", "-12", "3.25", "-0.5e-7", "1E+300", "18446744073709551616", "123456789012345678901234567890.5"]),
        2 => random.Pick(["true", "false", "null"]),
        3 => "\"\"",
        4 => "{" + string.Join(",", Enumerable.Range(0, random.Next(0, 3)).Select(_ => Ws() + JsonString(Text(random.Next(0, 6))) + Ws() + ":" + Ws() + Value(depth + 1))) + "}",
        _ => "[" + string.Join(",", Enumerable.Range(0, random.Next(0, 3)).Select(_ => Ws() + Value(depth + 1) + Ws())) + "]",
    };

    /// <summary>A value that opens <paramref name="levels"/> levels of objects and arrays.</summary>
    private string Nested(int levels)
    {
        var open = new StringBuilder();
        var close = new StringBuilder();
        for (var i = 0; i < levels; i++)
        {
            if (random.Percent(50))
            {
                open.Append('[');
                close.Insert(0, ']');
            }
            else
            {
                open.Append("{\"k\":");
                close.Insert(0, '}');
            }
        }

        return open.Append(random.Percent(50) ? "1" : "\"v\"").Append(close).ToString();
    }

    /// <summary>
    /// Writes the properties in order. A name starting with U+0001 is written as is (it holds its own
    /// escapes); others are escaped at random.
    /// </summary>
    private string Object(List<(string Name, string Value)> properties)
    {
        var builder = new StringBuilder("{");
        for (var i = 0; i < properties.Count; i++)
        {
            var (name, value) = properties[i];
            var written = name.StartsWith('\u0001') ? "\"" + name[1..] + "\"" : JsonString(name);
            builder.Append(Ws()).Append(written).Append(Ws()).Append(':').Append(Ws()).Append(value).Append(Ws());
            if (i < properties.Count - 1)
            {
                builder.Append(',');
            }
        }

        return builder.Append('}').ToString();
    }

    private static void SetValue(List<(string Name, string Value)> properties, string name, string value)
    {
        var index = properties.FindIndex(p => p.Name == name);
        if (index >= 0)
        {
            properties[index] = (name, value);
        }
        else
        {
            properties.Add((name, value));
        }
    }

    private Rune Bmp()
    {
        while (true)
        {
            var value = random.Next(0x800, 0x10000);
            if (Rune.IsValid(value))
            {
                return new Rune(value);
            }
        }
    }
}
