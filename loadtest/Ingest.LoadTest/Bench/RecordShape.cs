using System.Buffers.Text;
using System.Text;
using Confluent.Kafka;
using Ingest.Contracts;

namespace Ingest.LoadTest.Bench;

/// <summary>
/// What the raw producer writes besides key and value: the one place the bench imitates the
/// gateway's records. <see cref="None"/> is key and value only, what a plain producer writes and
/// users compare against; <see cref="Gateway"/> is the gateway's record as
/// <c>src/Ingest.Gateway/Kafka/RecordFactory.cs</c> builds it (docs/protocol.md, "What lands in
/// Kafka"). When the gateway's headers change, change <see cref="GatewayHeaders"/> with them.
/// </summary>
internal sealed class RecordShape
{
    /// <summary>Key and value only.</summary>
    public const string None = "none";

    /// <summary>Key, value and the gateway's three headers, built and shared as the gateway does.</summary>
    public const string Gateway = "gateway";

    private readonly byte[][] _connectionIds;
    private readonly Header? _gateway;
    private readonly (long Ms, Headers Headers)?[] _perConnection;
    private long _receivedAtMs = -1;
    private Header? _receivedAt;

    private RecordShape(string name, int connections)
    {
        Name = name;
        _connectionIds = new byte[connections][];
        _perConnection = new (long, Headers)?[connections];
        if (name == Gateway)
        {
            // Kestrel's connection ids are 13 characters ("0HNxxxxxxxxxx"); the instance id is the
            // gateway's default, "<machine>-<pid>".
            for (var c = 0; c < connections; c++)
            {
                _connectionIds[c] = Encoding.UTF8.GetBytes($"0HNBENCH{c:D5}");
            }

            _gateway = new Header(IngestHeaders.Gateway, Encoding.UTF8.GetBytes($"{Environment.MachineName}-{Environment.ProcessId}"));
        }
    }

    /// <summary>Every shape, by name.</summary>
    public static IReadOnlyList<string> Names { get; } = [None, Gateway];

    public string Name { get; }

    /// <summary>The shape called <paramref name="name"/> (<see cref="Names"/>), for records of <paramref name="connections"/> connections.</summary>
    public static RecordShape Create(string name, int connections) =>
        Names.Contains(name)
            ? new RecordShape(name, connections)
            : throw new ArgumentException($"Unknown record shape '{name}': one of {string.Join(", ", Names)}.", nameof(name));

    /// <summary>
    /// The headers of a record from <paramref name="connection"/>, received now; null for
    /// <see cref="None"/>. Not thread-safe: one producing thread, as in the gateway.
    /// </summary>
    public Headers? HeadersFor(int connection) => _gateway is null ? null : GatewayHeaders(connection, DateTimeOffset.UtcNow.ToUnixTimeMilliseconds());

    /// <summary>
    /// As <c>RecordFactory.HeadersOf</c>: <c>ingest-received-at</c> (Unix ms, decimal ASCII; one
    /// instance per millisecond), <c>ingest-connection</c> (the connection id) and
    /// <c>ingest-gateway</c> (the instance id); records of one connection within one millisecond share
    /// one <see cref="Headers"/>, since Confluent.Kafka copies headers into librdkafka per record.
    /// </summary>
    private Headers GatewayHeaders(int connection, long receivedAtMs)
    {
        if (_perConnection[connection] is { } cached && cached.Ms == receivedAtMs)
        {
            return cached.Headers;
        }

        if (_receivedAt is null || _receivedAtMs != receivedAtMs)
        {
            Span<byte> digits = stackalloc byte[20];
            Utf8Formatter.TryFormat(receivedAtMs, digits, out var length);
            _receivedAt = new Header(IngestHeaders.ReceivedAt, digits[..length].ToArray());
            _receivedAtMs = receivedAtMs;
        }

        var headers = new Headers { _receivedAt, new Header(IngestHeaders.Connection, _connectionIds[connection]), _gateway! };
        _perConnection[connection] = (receivedAtMs, headers);
        return headers;
    }
}
