namespace Ingest.Listener.Output;

/// <summary>How the listener prints each record.</summary>
internal enum EventFormat
{
    /// <summary>One logfmt-style line: time, partition/offset, clientId, msg, timestamp.</summary>
    Text,

    /// <summary>The raw record value, one JSON document a line (JSON Lines).</summary>
    Json,
}
