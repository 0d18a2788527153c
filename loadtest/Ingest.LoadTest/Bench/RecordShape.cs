using System.Text;
using Confluent.Kafka;
using Ingest.Contracts;

namespace Ingest.LoadTest.Bench;

/// <summary>
/// What the raw producer writes besides key and value: the one place the bench imitates the
/// gateway's records. <see cref="None"/> is key and value only, what a plain producer writes and
/// users compare against; <see cref="Gateway"/> is the gateway's record as
/// <c>src/Ingest.Gateway/Kafka/RecordFactory.cs</c> builds it by default (docs/protocol.md, "What
/// lands in Kafka"). When the gateway's headers change, change <see cref="HeadersFor"/> with them.
/// </summary>
internal sealed class RecordShape
{
    /// <summary>Key and value only.</summary>
    public const string None = "none";

    /// <summary>Key, value and the gateway's <c>ingest-source</c> header, made once per connection as the gateway does.</summary>
    public const string Gateway = "gateway";

    private readonly Headers?[] _perConnection;

    private RecordShape(string name, int connections)
    {
        Name = name;
        _perConnection = new Headers?[connections];
        if (name == Gateway)
        {
            // Kestrel's connection ids are 13 characters ("0HNxxxxxxxxxx"); the instance id is the
            // gateway's default, "<machine>-<pid>".
            var gateway = Encoding.UTF8.GetBytes($"{Environment.MachineName}-{Environment.ProcessId}");
            for (var c = 0; c < connections; c++)
            {
                _perConnection[c] = new Headers { { IngestHeaders.Source, IngestHeaders.SourceValue(Encoding.UTF8.GetBytes($"0HNBENCH{c:D5}"), gateway) } };
            }
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
    /// The headers of a record from <paramref name="connection"/>: null for <see cref="None"/>; for
    /// <see cref="Gateway"/>, as <c>RecordFactory.HeadersOf</c> makes them by default, the one
    /// <c>ingest-source</c> header (the connection id, a space, the instance id), one instance per
    /// connection (the producer copies headers into librdkafka per record). The gateway also sets
    /// each record's timestamp to when it read the message, which costs nothing more than the
    /// timestamp every producer sets.
    /// </summary>
    public Headers? HeadersFor(int connection) => _perConnection[connection];
}
