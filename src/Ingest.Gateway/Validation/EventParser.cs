using System.Buffers;
using System.Text.Json;
using System.Text.Unicode;
using Ingest.Contracts;

namespace Ingest.Gateway.Validation;

/// <summary>Why a message was rejected; the wire codes of <c>error</c> frames (docs/protocol.md, "Server to client").</summary>
internal enum RejectReason
{
    None = 0,
    InvalidJson,
    InvalidEvent,
    BatchTooLarge,
    BinaryNotSupported,
    DeliveryFailed,
    MessageTooLarge,
    InvalidUtf8,
}

internal static class RejectReasonExtensions
{
    /// <summary>The code as it appears in <c>error</c> frames and in the <c>ingest-error</c> header.</summary>
    public static string ToCode(this RejectReason reason) => reason switch
    {
        RejectReason.InvalidJson => ErrorCodes.InvalidJson,
        RejectReason.InvalidEvent => ErrorCodes.InvalidEvent,
        RejectReason.BatchTooLarge => ErrorCodes.BatchTooLarge,
        RejectReason.BinaryNotSupported => ErrorCodes.BinaryNotSupported,
        RejectReason.DeliveryFailed => ErrorCodes.DeliveryFailed,
        RejectReason.MessageTooLarge => ErrorCodes.MessageTooLarge,
        RejectReason.InvalidUtf8 => ErrorCodes.InvalidUtf8,
        _ => throw new ArgumentOutOfRangeException(nameof(reason), reason, null),
    };
}

/// <summary>One valid event inside a message: its exact bytes and its key.</summary>
/// <param name="Start">Offset of the event's <c>{</c> in the message.</param>
/// <param name="Length">Bytes from its <c>{</c> to its <c>}</c> inclusive.</param>
/// <param name="Key">The unescaped <c>clientId</c>, UTF-8.</param>
internal readonly record struct EventSlice(int Start, int Length, byte[] Key);

/// <summary>
/// Validates a WebSocket text message against the contract (docs/protocol.md, "Client to server") in one pass of
/// <see cref="Utf8JsonReader"/>, without building a document or re-serialising: the events keep
/// the exact bytes the client sent. A message is one event (an object) or a batch (an array of 1 to
/// <see cref="MaxBatchSize"/> objects). An event needs <c>clientId</c> (string, 1-256 Unicode scalar
/// values), <c>msg</c> (string) and <c>timestamp</c> (integer, 0 to 2^63-1); other properties are kept.
/// </summary>
/// <remarks>
/// When a message has several faults, the error reported is the first of: invalid JSON anywhere,
/// more than <see cref="MaxBatchSize"/> elements, then the first invalid event. Not thread-safe: a
/// connection owns one parser and reuses its event list and key cache. The one file in the gateway
/// over 300 lines, on purpose: the single pass is one state machine over one
/// <see cref="Utf8JsonReader"/> (a ref struct passed by reference), which splitting across files
/// would only scatter.
/// </remarks>
internal sealed class EventParser
{
    public const int MaxBatchSize = 1000;
    public const int MaxClientIdLength = 256;

    /// <summary>
    /// Levels an event may nest, the event object itself being the first (<c>{"a":{"b":1}}</c> is
    /// 2), wherever it stands: alone or in a batch, whose array does not count.
    /// </summary>
    public const int MaxEventDepth = 64;

    /// <summary>
    /// How deep the reader follows a message at all; past it the message is not JSON the gateway
    /// reads (invalid_json). Well above <see cref="MaxEventDepth"/>, so that every event deeper than
    /// that is found and reported as such.
    /// </summary>
    public const int MaxReaderDepth = 1024;

    private static readonly JsonReaderOptions ReaderOptions = new()
    {
        CommentHandling = JsonCommentHandling.Disallow,
        AllowTrailingCommas = false,
        MaxDepth = MaxReaderDepth,
    };

    private readonly List<EventSlice> _events = [];
    private byte[]? _lastKey;

    /// <summary>The events of the last message that parsed as valid.</summary>
    public IReadOnlyList<EventSlice> Events => _events;

    /// <summary>Error detail of the last rejected message, for the <c>error</c> frame.</summary>
    public string ErrorMessage { get; private set; } = "";

    /// <summary>Parses one whole message; on success <see cref="Events"/> holds its events.</summary>
    public RejectReason Parse(ReadOnlySpan<byte> message)
    {
        _events.Clear();
        ErrorMessage = "";
        var reader = new Utf8JsonReader(message, isFinalBlock: true, new JsonReaderState(ReaderOptions));
        var semanticError = RejectReason.None;
        string? semanticMessage = null;
        try
        {
            if (!reader.Read())
            {
                return Reject(RejectReason.InvalidJson, "the message is empty");
            }

            switch (reader.TokenType)
            {
                case JsonTokenType.StartObject:
                    if (ReadEvent(ref reader, message, index: -1) is { } error)
                    {
                        (semanticError, semanticMessage) = (RejectReason.InvalidEvent, error);
                    }

                    break;
                case JsonTokenType.StartArray:
                    (semanticError, semanticMessage) = ReadBatch(ref reader, message);
                    break;
                default:
                    reader.Skip();
                    (semanticError, semanticMessage) = (RejectReason.InvalidEvent, "a message must be a JSON object (one event) or an array of objects (a batch)");
                    break;
            }

            // Anything after the top-level value (other than white space) is invalid JSON.
            if (reader.Read())
            {
                return Reject(RejectReason.InvalidJson, $"unexpected data after the JSON value at byte {reader.TokenStartIndex}");
            }
        }
        catch (JsonException e)
        {
            return Reject(RejectReason.InvalidJson, $"line {e.LineNumber + 1}, byte {e.BytePositionInLine + 1}: {FirstSentence(e.Message)}");
        }

        return semanticError == RejectReason.None ? RejectReason.None : Reject(semanticError, semanticMessage!);
    }

    private (RejectReason, string?) ReadBatch(ref Utf8JsonReader reader, ReadOnlySpan<byte> message)
    {
        var count = 0;
        string? firstInvalid = null;
        while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
        {
            count++;
            if (reader.TokenType != JsonTokenType.StartObject)
            {
                firstInvalid ??= $"batch element {count - 1} is not a JSON object";
                reader.Skip();
                continue;
            }

            if (count > MaxBatchSize || firstInvalid is not null)
            {
                // Already rejected: only syntax and size still matter.
                reader.Skip();
                continue;
            }

            firstInvalid = ReadEvent(ref reader, message, count - 1);
        }

        if (count > MaxBatchSize)
        {
            _events.Clear();
            return (RejectReason.BatchTooLarge, $"a batch holds at most {MaxBatchSize} events; this one has {count}");
        }

        if (count == 0)
        {
            return (RejectReason.InvalidEvent, "a batch must hold at least one event");
        }

        if (firstInvalid is not null)
        {
            _events.Clear();
            return (RejectReason.InvalidEvent, firstInvalid);
        }

        return (RejectReason.None, null);
    }

    /// <summary>Reads one event object (the reader is on its StartObject); returns an error or null.</summary>
    private string? ReadEvent(ref Utf8JsonReader reader, ReadOnlySpan<byte> message, int index)
    {
        var start = (int)reader.TokenStartIndex;
        var baseDepth = reader.CurrentDepth;
        var tooDeep = false;
        byte[]? key = null;
        bool seenClientId = false, seenMsg = false, seenTimestamp = false;
        string? error = null;

        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            if (NameIs(ref reader, "clientId"u8))
            {
                reader.Read();
                error ??= seenClientId ? "duplicate property clientId" : ReadClientId(ref reader, out key);
                seenClientId = true;
            }
            else if (NameIs(ref reader, "msg"u8))
            {
                reader.Read();
                error ??= seenMsg ? "duplicate property msg"
                    : reader.TokenType == JsonTokenType.String ? null : $"msg must be a string, not {Describe(reader.TokenType)}";
                seenMsg = true;
            }
            else if (NameIs(ref reader, "timestamp"u8))
            {
                reader.Read();
                error ??= seenTimestamp ? "duplicate property timestamp" : CheckTimestamp(ref reader);
                seenTimestamp = true;
            }
            else
            {
                reader.Read();
            }

            tooDeep |= SkipValue(ref reader, baseDepth);
        }

        if (tooDeep)
        {
            error ??= $"the event nests deeper than {MaxEventDepth} levels";
        }

        error ??= !seenClientId ? "clientId is missing"
            : !seenMsg ? "msg is missing"
            : !seenTimestamp ? "timestamp is missing"
            : null;
        if (error is not null)
        {
            return index < 0 ? error : $"event {index}: {error}";
        }

        _events.Add(new EventSlice(start, (int)reader.BytesConsumed - start, key!));
        return null;
    }

    /// <summary>
    /// Skips the value the reader is on (for an object or array: up to its end), and tells whether
    /// it opens a level deeper than <see cref="MaxEventDepth"/> in the event that starts at
    /// <paramref name="baseDepth"/> (its tokens' <see cref="Utf8JsonReader.CurrentDepth"/> counts
    /// from there: the event's own nested values are at level depth - base + 1).
    /// </summary>
    private static bool SkipValue(ref Utf8JsonReader reader, int baseDepth)
    {
        if (reader.TokenType is not (JsonTokenType.StartObject or JsonTokenType.StartArray))
        {
            return false;
        }

        var depth = reader.CurrentDepth;
        var tooDeep = depth - baseDepth + 1 > MaxEventDepth;
        while (reader.Read())
        {
            if (reader.TokenType is JsonTokenType.StartObject or JsonTokenType.StartArray)
            {
                tooDeep |= reader.CurrentDepth - baseDepth + 1 > MaxEventDepth;
            }
            else if (reader.TokenType is JsonTokenType.EndObject or JsonTokenType.EndArray && reader.CurrentDepth == depth)
            {
                break;
            }
        }

        return tooDeep;
    }

    /// <summary>
    /// Compares a property name after unescaping. <see cref="Utf8JsonReader.ValueTextEquals(ReadOnlySpan{byte})"/>
    /// throws on an escaped unpaired surrogate, which is valid JSON (RFC 8259 section 8.2) but equals
    /// no name of the contract: such a name is an extra property.
    /// </summary>
    private static bool NameIs(ref Utf8JsonReader reader, ReadOnlySpan<byte> name)
    {
        try
        {
            return reader.ValueTextEquals(name);
        }
        catch (InvalidOperationException)
        {
            return false;
        }
    }

    private string? ReadClientId(ref Utf8JsonReader reader, out byte[]? key)
    {
        key = null;
        if (reader.TokenType != JsonTokenType.String)
        {
            return $"clientId must be a string, not {Describe(reader.TokenType)}";
        }

        // Unescaping never lengthens a string, so the raw length bounds the buffer.
        Span<byte> stack = stackalloc byte[1024];
        byte[]? rented = null;
        try
        {
            scoped ReadOnlySpan<byte> value;
            if (reader.ValueIsEscaped)
            {
                var length = reader.ValueSpan.Length;
                var buffer = length <= stack.Length ? stack : (rented = ArrayPool<byte>.Shared.Rent(length));
                try
                {
                    value = buffer[..reader.CopyString(buffer)];
                }
                catch (InvalidOperationException)
                {
                    return "clientId is not valid Unicode (unpaired surrogate escape)";
                }
            }
            else
            {
                value = reader.ValueSpan;
            }

            if (!Utf8.IsValid(value))
            {
                return "clientId is not valid UTF-8";
            }

            var scalars = CountScalars(value);
            if (scalars is 0 or > MaxClientIdLength)
            {
                return $"clientId must have 1 to {MaxClientIdLength} characters, not {scalars}";
            }

            key = KeyFor(value);
            return null;
        }
        finally
        {
            if (rented is not null)
            {
                ArrayPool<byte>.Shared.Return(rented);
            }
        }
    }

    private static string? CheckTimestamp(ref Utf8JsonReader reader)
    {
        if (reader.TokenType != JsonTokenType.Number)
        {
            return $"timestamp must be an integer (Unix milliseconds), not {Describe(reader.TokenType)}";
        }

        var raw = reader.ValueSpan;
        if (raw.IndexOfAny("."u8) >= 0 || raw.IndexOfAny("eE"u8) >= 0)
        {
            return "timestamp must be an integer without fraction or exponent";
        }

        return reader.TryGetInt64(out var value) && value >= 0
            ? null
            : "timestamp must be between 0 and 9223372036854775807";
    }

    /// <summary>Reuses the previous key array when a client sends the same clientId again.</summary>
    private byte[] KeyFor(ReadOnlySpan<byte> clientId)
    {
        if (_lastKey is not null && clientId.SequenceEqual(_lastKey))
        {
            return _lastKey;
        }

        return _lastKey = clientId.ToArray();
    }

    /// <summary>Unicode scalar values in valid UTF-8: every byte that is not a continuation byte.</summary>
    private static int CountScalars(ReadOnlySpan<byte> utf8)
    {
        var count = 0;
        foreach (var b in utf8)
        {
            if ((b & 0xC0) != 0x80)
            {
                count++;
            }
        }

        return count;
    }

    private static string Describe(JsonTokenType token) => token switch
    {
        JsonTokenType.StartObject => "an object",
        JsonTokenType.StartArray => "an array",
        JsonTokenType.String => "a string",
        JsonTokenType.Number => "a number",
        JsonTokenType.True or JsonTokenType.False => "a boolean",
        JsonTokenType.Null => "null",
        _ => token.ToString(),
    };

    private static string FirstSentence(string message)
    {
        var end = message.IndexOf(" LineNumber:", StringComparison.Ordinal);
        return (end > 0 ? message[..end] : message).TrimEnd();
    }

    private RejectReason Reject(RejectReason reason, string message)
    {
        _events.Clear();
        ErrorMessage = message;
        return reason;
    }
}
