using System.Globalization;
using System.Numerics;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using Ingest.Contracts;

namespace Ingest.UnitTests.Fuzz;

/// <summary>One event the contract accepts: its bytes from <c>{</c> to <c>}</c> and its key.</summary>
internal sealed record OracleEvent(byte[] Raw, byte[] Key);

/// <summary>
/// What docs/protocol.md ("Client to server") says of one data message: its events, or the error
/// code it must be rejected with (and, for <c>invalid_event</c> in a batch, which element is the
/// first invalid one).
/// </summary>
internal sealed record OracleVerdict(string? Code, IReadOnlyList<OracleEvent> Events, int FirstInvalidElement = -1)
{
    public bool Accepted => Code is null;
}

/// <summary>
/// The contract's rules for a message, written from docs/protocol.md without looking at how
/// <c>EventParser</c> does it: System.Text.Json's <see cref="JsonDocument"/> decides what is JSON,
/// and the rules (shape, batch size, depth, required properties, types, ranges, duplicates, the
/// token's clientId) are checked plainly over the document and the raw bytes.
/// </summary>
internal static class JsonContractOracle
{
    public const int MaxBatch = 1000;
    public const int MaxEventDepth = 64;
    public const int MaxMessageDepth = 1024;
    public const int MaxClientIdScalars = 256;

    private static readonly BigInteger MaxTimestamp = long.MaxValue;

    /// <summary>Deep enough that only the contract's own depth limit decides (checked on the bytes).</summary>
    private static readonly JsonDocumentOptions DocumentOptions = new() { MaxDepth = 4 * MaxMessageDepth };

    public static OracleVerdict Verdict(ReadOnlyMemory<byte> message, bool binary, byte[]? allowedClientId)
    {
        if (binary)
        {
            return Reject(ErrorCodes.BinaryNotSupported);
        }

        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(message, DocumentOptions);
        }
        catch (JsonException)
        {
            return Reject(ErrorCodes.InvalidJson); // not JSON, empty, trailing data, or deeper than 4096
        }

        using (document)
        {
            if (Depth(message.Span) > MaxMessageDepth)
            {
                return Reject(ErrorCodes.InvalidJson);
            }

            var root = document.RootElement;
            List<JsonElement> elements;
            var batch = root.ValueKind == JsonValueKind.Array;
            if (root.ValueKind == JsonValueKind.Object)
            {
                elements = [root];
            }
            else if (batch)
            {
                if (root.GetArrayLength() > MaxBatch)
                {
                    return Reject(ErrorCodes.BatchTooLarge);
                }

                elements = [.. root.EnumerateArray()];
                if (elements.Count == 0)
                {
                    return Reject(ErrorCodes.InvalidEvent);
                }
            }
            else
            {
                return Reject(ErrorCodes.InvalidEvent); // a scalar
            }

            var events = new List<OracleEvent>(elements.Count);
            for (var i = 0; i < elements.Count; i++)
            {
                if (ValidEvent(elements[i]) is not { } valid)
                {
                    return new OracleVerdict(ErrorCodes.InvalidEvent, [], batch ? i : -1);
                }

                events.Add(valid);
            }

            if (allowedClientId is not null && events.Any(e => !e.Key.AsSpan().SequenceEqual(allowedClientId)))
            {
                return Reject(ErrorCodes.ClientIdMismatch);
            }

            return new OracleVerdict(null, events);
        }
    }

    /// <summary>
    /// How deep a JSON text nests (an object or array is one level more than what holds it),
    /// counted on its bytes: brackets outside strings.
    /// </summary>
    public static int Depth(ReadOnlySpan<byte> json)
    {
        int depth = 0, max = 0;
        var inString = false;
        for (var i = 0; i < json.Length; i++)
        {
            var b = json[i];
            if (inString)
            {
                if (b == '\\')
                {
                    i++;
                }
                else if (b == '"')
                {
                    inString = false;
                }
            }
            else if (b == '"')
            {
                inString = true;
            }
            else if (b is (byte)'{' or (byte)'[')
            {
                max = Math.Max(max, ++depth);
            }
            else if (b is (byte)'}' or (byte)']')
            {
                depth--;
            }
        }

        return max;
    }

    private static OracleVerdict Reject(string code) => new(code, []);

    /// <summary>The event and its key when the element is a valid event, else null.</summary>
    private static OracleEvent? ValidEvent(JsonElement element)
    {
        if (element.ValueKind != JsonValueKind.Object)
        {
            return null;
        }

        var raw = JsonMarshal.GetRawUtf8Value(element);
        if (Depth(raw) > MaxEventDepth)
        {
            return null;
        }

        JsonElement clientId = default, msg = default, timestamp = default;
        int clientIds = 0, msgs = 0, timestamps = 0;
        foreach (var property in element.EnumerateObject())
        {
            string name;
            try
            {
                name = property.Name;
            }
            catch (InvalidOperationException)
            {
                continue; // a name that is not text (an unpaired surrogate escape, bytes that are not UTF-8) is none of the three
            }

            switch (name)
            {
                case "clientId":
                    clientIds++;
                    clientId = property.Value;
                    break;
                case "msg":
                    msgs++;
                    msg = property.Value;
                    break;
                case "timestamp":
                    timestamps++;
                    timestamp = property.Value;
                    break;
            }
        }

        if (clientIds != 1 || msgs != 1 || timestamps != 1)
        {
            return null; // missing or duplicate
        }

        if (msg.ValueKind != JsonValueKind.String || !IsTimestamp(timestamp) || ClientIdText(clientId) is not { } text)
        {
            return null;
        }

        return new OracleEvent(raw.ToArray(), Encoding.UTF8.GetBytes(text));
    }

    /// <summary>A JSON integer, no fraction, no exponent, 0 to 2^63-1.</summary>
    private static bool IsTimestamp(JsonElement timestamp)
    {
        if (timestamp.ValueKind != JsonValueKind.Number)
        {
            return false;
        }

        var raw = Encoding.ASCII.GetString(JsonMarshal.GetRawUtf8Value(timestamp));
        var digits = raw.StartsWith('-') ? raw[1..] : raw;
        if (digits.Length == 0 || !digits.All(char.IsAsciiDigit))
        {
            return false;
        }

        var value = BigInteger.Parse(raw, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture);
        return value >= 0 && value <= MaxTimestamp;
    }

    /// <summary>The clientId as text when it is a string of 1 to 256 Unicode scalar values.</summary>
    private static string? ClientIdText(JsonElement clientId)
    {
        if (clientId.ValueKind != JsonValueKind.String)
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
            return null; // an unpaired surrogate escape, or bytes that are not UTF-8
        }

        var scalars = 0;
        for (var i = 0; i < text.Length; i++)
        {
            if (char.IsHighSurrogate(text[i]) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]))
            {
                i++;
            }
            else if (char.IsSurrogate(text[i]))
            {
                return null;
            }

            scalars++;
        }

        return scalars is >= 1 and <= MaxClientIdScalars ? text : null;
    }
}
