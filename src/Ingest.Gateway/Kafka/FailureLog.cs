namespace Ingest.Gateway.Kafka;

/// <summary>
/// Counts failures of one kind and says when to log them: the first at once, then at most one line
/// per <see cref="Interval"/> with the count since the last line, so that a failing dead-letter topic
/// under a flood of bad messages gives a warning a few times a minute and not one per record (the
/// metric counts every one).
/// </summary>
internal sealed class FailureLog(TimeProvider time)
{
    public static readonly TimeSpan Interval = TimeSpan.FromSeconds(10);

    private readonly Lock _lock = new();
    private long _unlogged;
    private long _loggedAt; // 0: never

    /// <summary>Counts one failure; the number to log now (this one and those not logged yet), or null to log nothing yet.</summary>
    public long? Take()
    {
        var now = time.GetTimestamp();
        lock (_lock)
        {
            _unlogged++;
            if (_loggedAt != 0 && time.GetElapsedTime(_loggedAt, now) < Interval)
            {
                return null;
            }

            var count = _unlogged;
            (_unlogged, _loggedAt) = (0, now);
            return count;
        }
    }
}
