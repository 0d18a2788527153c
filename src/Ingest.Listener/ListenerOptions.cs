using Ingest.Listener.Output;

namespace Ingest.Listener;

/// <summary>What one listener run does, resolved from the command line (and the discovery file).</summary>
internal sealed record ListenerOptions
{
    /// <summary>Kafka bootstrap servers.</summary>
    public required string BootstrapServers { get; init; }

    /// <summary>The topic to read: the events topic, or the dead-letter topic with <see cref="DeadLetter"/>.</summary>
    public required string Topic { get; init; }

    /// <summary>
    /// The consumer group. Null means a fresh group per run, so that any number of listeners each
    /// see every event; such a run never commits offsets.
    /// </summary>
    public string? GroupId { get; init; }

    /// <summary>Start from the oldest record when the group has no committed offset; otherwise from the end.</summary>
    public bool FromBeginning { get; init; }

    /// <summary>How each event is printed.</summary>
    public EventFormat Format { get; init; } = EventFormat.Text;

    /// <summary>Print the record headers with each event.</summary>
    public bool ShowHeaders { get; init; }

    /// <summary>Print each record's <c>traceparent</c> header (written by a gateway that traces).</summary>
    public bool ShowTrace { get; init; }

    /// <summary>The topic holds dead-letter records: print their error headers and raw bytes.</summary>
    public bool DeadLetter { get; init; }

    /// <summary>Stop once this many events were seen; null means run until stopped.</summary>
    public long? Count { get; init; }

    /// <summary>Stop after this long (from start, including the group join); null means no limit.</summary>
    public TimeSpan? Timeout { get; init; }

    /// <summary>Print nothing per event.</summary>
    public bool Quiet { get; init; }

    /// <summary>Check for duplicates and per-clientId timestamp order, and print a summary.</summary>
    public bool Verify { get; init; }

    /// <summary>Whether offsets are committed: only for a named group.</summary>
    public bool CommitsOffsets => GroupId is not null;
}
