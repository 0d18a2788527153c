using System.Buffers;
using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text;
using Ingest.Listener.Events;
using Ingest.Listener.Output;

namespace Ingest.Listener.Verification;

/// <summary>
/// Checks a stream of records for what the gateway promises (docs/protocol.md, "What lands in Kafka" and "Guarantees"):
/// no record twice, and per clientId the <c>timestamp</c>s in the order sent. Not thread-safe.
/// </summary>
/// <remarks>
/// A duplicate is a record whose key and value are both equal to an earlier one's. Records are
/// remembered by a 128-bit digest (SHA-256, truncated) of key and value rather than by content,
/// so a million events cost tens of megabytes, not hundreds. A duplicate is not also counted
/// out of order: a resent event naturally comes after newer ones.
/// </remarks>
internal sealed class EventVerifier
{
    /// <summary>How many problems the report describes one by one.</summary>
    internal const int MaxExamples = 10;

    private readonly HashSet<UInt128> _seen = [];
    private readonly Dictionary<string, ClientState> _clients = new(StringComparer.Ordinal);
    private readonly List<string> _examples = [];
    private byte[] _buffer = new byte[256];

    public long Total { get; private set; }

    public long Duplicates { get; private set; }

    public long OutOfOrder { get; private set; }

    /// <summary>Records whose value is not a JSON object with a <c>timestamp</c> integer.</summary>
    public long Invalid { get; private set; }

    public long Distinct => _seen.Count;

    /// <summary>True when nothing was wrong.</summary>
    public bool Passed => Duplicates == 0 && OutOfOrder == 0 && Invalid == 0;

    /// <summary>Observes one record, identified in messages by <paramref name="partition"/>/<paramref name="offset"/>.</summary>
    public void Observe(int partition, long offset, ReadOnlySpan<byte> key, bool hasKey, ReadOnlySpan<byte> value)
    {
        Total++;
        if (!_seen.Add(Digest(key, hasKey, value)))
        {
            Duplicates++;
            Example($"duplicate at {partition}/{offset}: key {Describe(key, hasKey)}, value {Logfmt.Quote(Encoding.UTF8.GetString(value))}");
            return;
        }

        if (!TelemetryEvent.TryParse(value, out var telemetryEvent) || telemetryEvent.Timestamp is not { } timestamp)
        {
            Invalid++;
            Example($"not an event at {partition}/{offset}: {Logfmt.Quote(Encoding.UTF8.GetString(value))}");
            return;
        }

        // The key is the clientId (docs/protocol.md, "What lands in Kafka"); a keyless record from
        // another producer is grouped by the clientId in its value.
        var clientId = hasKey ? Encoding.UTF8.GetString(key) : telemetryEvent.ClientId ?? "";
        ref var state = ref CollectionsMarshal.GetValueRefOrAddDefault(_clients, clientId, out var existed);
        state.Count++;
        if (existed && timestamp < state.LastTimestamp)
        {
            OutOfOrder++;
            Example($"out of order at {partition}/{offset}: clientId {Logfmt.Quote(clientId)} timestamp {timestamp} after {state.LastTimestamp}");
            return;
        }

        state.LastTimestamp = timestamp;
    }

    /// <summary>Per clientId, how many distinct events were seen; most first, then by clientId.</summary>
    public IReadOnlyList<KeyValuePair<string, long>> CountsByClientId() =>
        _clients.Select(c => KeyValuePair.Create(c.Key, c.Value.Count))
            .OrderByDescending(c => c.Value)
            .ThenBy(c => c.Key, StringComparer.Ordinal)
            .ToArray();

    /// <summary>The first <see cref="MaxExamples"/> problems, as sentences.</summary>
    public IReadOnlyList<string> Examples => _examples;

    private UInt128 Digest(ReadOnlySpan<byte> key, bool hasKey, ReadOnlySpan<byte> value)
    {
        // Length-prefix the key so that (key "ab", value "c") and (key "a", value "bc") differ.
        var length = 4 + key.Length + value.Length;
        if (_buffer.Length < length)
        {
            _buffer = new byte[Math.Max(length, _buffer.Length * 2)];
        }

        var buffer = _buffer.AsSpan(0, length);
        BinaryPrimitives.WriteInt32LittleEndian(buffer, hasKey ? key.Length : -1);
        key.CopyTo(buffer[4..]);
        value.CopyTo(buffer[(4 + key.Length)..]);
        Span<byte> hash = stackalloc byte[SHA256.HashSizeInBytes];
        SHA256.HashData(buffer, hash);
        return BinaryPrimitives.ReadUInt128LittleEndian(hash);
    }

    private void Example(string problem)
    {
        if (_examples.Count < MaxExamples)
        {
            _examples.Add(problem);
        }
    }

    private static string Describe(ReadOnlySpan<byte> key, bool hasKey) => hasKey ? Logfmt.Quote(Encoding.UTF8.GetString(key)) : "(none)";

    private struct ClientState
    {
        public long Count;
        public long LastTimestamp;
    }
}
