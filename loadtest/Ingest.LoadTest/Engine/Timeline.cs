using System.Diagnostics;

namespace Ingest.LoadTest.Engine;

/// <summary>
/// The run second by second, as NBomber's report charts it: events sent and acked per second and
/// the send-to-ack percentiles of the acks that arrived in that second (an HdrHistogram interval
/// histogram per second, see <see cref="LatencyHistogram.TakeInterval"/>). Sampled by a timer once
/// a second, never per event.
/// </summary>
internal sealed class Timeline
{
    private readonly LoadStats _stats;
    private readonly long _started;
    private readonly List<TimelineSecond> _seconds = [];
    private readonly Lock _lock = new();
    private (TimeSpan At, long Sent, long Acked, long Messages, long Errored) _previous;

    /// <param name="stats">The step's counters; its ack latency must keep intervals (<c>new LoadStats(latencyPerSecond: true)</c>).</param>
    /// <param name="started">Where second 1 starts (a <see cref="Stopwatch.GetTimestamp"/> value).</param>
    public Timeline(LoadStats stats, long started)
    {
        _stats = stats;
        _started = started;
    }

    /// <summary>The seconds sampled so far.</summary>
    public IReadOnlyList<TimelineSecond> Seconds
    {
        get
        {
            lock (_lock)
            {
                return _seconds.ToArray();
            }
        }
    }

    /// <summary>Samples at every whole second from the start until cancelled, then once more for the part-second left.</summary>
    public async Task RunAsync(CancellationToken cancellationToken)
    {
        try
        {
            while (true)
            {
                // The whole second after the previous sample (rounded, so that a tick a little early
                // or late is not followed by a sliver of an interval; after a stall the next interval
                // is longer, and its rates are over its real length).
                var next = TimeSpan.FromSeconds(Math.Round(_previous.At.TotalSeconds) + 1);
                var wait = next - Stopwatch.GetElapsedTime(_started);
                if (wait > TimeSpan.Zero)
                {
                    await Task.Delay(wait, cancellationToken).ConfigureAwait(false);
                }

                Sample();
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // The run ended: sample the part-second left.
        }

        // Every ack lands in some row: the last one is taken unless it is a sliver in which nothing happened.
        if (Stopwatch.GetElapsedTime(_started) - _previous.At > TimeSpan.FromMilliseconds(50)
            || Interlocked.Read(ref _stats.EventsSent) != _previous.Sent
            || Interlocked.Read(ref _stats.MessagesAcked) != _previous.Messages
            || Interlocked.Read(ref _stats.EventsErrored) != _previous.Errored)
        {
            Sample();
        }
    }

    /// <summary>Closes the current interval: the counters' differences over its length, and its latency histogram.</summary>
    public void Sample()
    {
        lock (_lock)
        {
            var at = Stopwatch.GetElapsedTime(_started);
            long sent = Interlocked.Read(ref _stats.EventsSent), acked = Interlocked.Read(ref _stats.EventsAcked);
            long messages = Interlocked.Read(ref _stats.MessagesAcked), errored = Interlocked.Read(ref _stats.EventsErrored);
            var seconds = (at - _previous.At).TotalSeconds;
            var latency = _stats.AckLatency.TakeInterval();
            _seconds.Add(new TimelineSecond(
                // The whole second the interval ends at (a tick is a little late or early; the last,
                // partial interval gets the next number); a second skipped by a stall is missing.
                Second: Math.Max(_seconds.Count == 0 ? 1 : _seconds[^1].Second + 1, (int)Math.Round(at.TotalSeconds)),
                ElapsedSeconds: Math.Round(at.TotalSeconds, 3),
                SentPerSecond: seconds <= 0 ? 0 : Math.Round((sent - _previous.Sent) / seconds, 1),
                AckedPerSecond: seconds <= 0 ? 0 : Math.Round((acked - _previous.Acked) / seconds, 1),
                Acks: messages - _previous.Messages,
                Errored: errored - _previous.Errored,
                ConnectionsOpen: Interlocked.Read(ref _stats.ConnectionsOpen),
                AckP50Ms: latency.Count == 0 ? null : latency.P50Ms,
                AckP99Ms: latency.Count == 0 ? null : latency.P99Ms,
                AckMaxMs: latency.Count == 0 ? null : latency.MaxMs));
            _previous = (at, sent, acked, messages, errored);
        }
    }
}

/// <summary>One second of a run (the last one may be shorter: <see cref="ElapsedSeconds"/> says where it ended).</summary>
/// <param name="Second">The whole second of the run at which the interval ends: 1 for the first.</param>
/// <param name="ElapsedSeconds">Time from the start of the run to the end of this interval.</param>
/// <param name="SentPerSecond">Events sent (resends included) in the interval, per second.</param>
/// <param name="AckedPerSecond">Events acked in the interval, per second.</param>
/// <param name="Acks">Messages acked in the interval: the latency samples behind the percentiles.</param>
/// <param name="Errored">Events rejected in the interval.</param>
/// <param name="ConnectionsOpen">Connections open at the end of the interval.</param>
/// <param name="AckP50Ms">Median send-to-ack of the messages acked in the interval; null when none was.</param>
/// <param name="AckP99Ms">99th percentile of the same; null when none was.</param>
/// <param name="AckMaxMs">Largest of the same; null when none was.</param>
internal sealed record TimelineSecond(
    int Second, double ElapsedSeconds, double SentPerSecond, double AckedPerSecond, long Acks, long Errored, long ConnectionsOpen,
    double? AckP50Ms, double? AckP99Ms, double? AckMaxMs);
