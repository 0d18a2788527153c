namespace Ingest.LoadTest.Engine;

/// <summary>Counters and latencies shared by the clients of one step (fields for Interlocked).</summary>
/// <param name="latencyPerSecond">Keep interval histograms of the ack latency as well, for a <see cref="Timeline"/>.</param>
internal sealed class LoadStats(bool latencyPerSecond = false)
{
#pragma warning disable CA1051 // counters are fields so that clients can update them with Interlocked
    public long MessagesSent;
    public long MessagesAcked;
    public long EventsSent;
    public long EventsResent;
    public long EventsAcked;
    public long EventsErrored;
    public long DeliveryFailures;
    public long Reconnects;
    public long ConnectFailures;
    public long DrainingFrames;
    public long ShutdownCloses;
    public long UnknownFrames;
    public long ConnectionsOpen;
#pragma warning restore CA1051

    /// <summary>Send (or intended send) to ack, per message.</summary>
    public LatencyHistogram AckLatency { get; } = new(intervals: latencyPerSecond);
}

/// <summary>Settings of one <see cref="LoadClient"/>.</summary>
internal sealed record LoadClientOptions
{
    /// <summary>Unacked messages allowed in flight. Defaults to 64.</summary>
    public int Window { get; init; } = 64;

    public TimeSpan ConnectTimeout { get; init; } = TimeSpan.FromSeconds(10);

    public TimeSpan InitialBackoff { get; init; } = TimeSpan.FromMilliseconds(100);

    public TimeSpan MaxBackoff { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>Called under the client's lock for every acked message: (event key, events).</summary>
    public Action<long, int>? OnAcked { get; init; }

    /// <summary>Called under the client's lock for every rejected message: (event key, events, error code).</summary>
    public Action<long, int, string?>? OnRejected { get; init; }

    /// <summary>Called for every unacked message sent again on a new connection: (event key, events).</summary>
    public Action<long, int>? OnResent { get; init; }

    /// <summary>
    /// Local addresses to connect from, one per client in turn (see <see cref="Engine.SourceAddresses"/>);
    /// null: the kernel picks the source address, as for any client.
    /// </summary>
    public SourceAddresses? SourceAddresses { get; init; }
}
