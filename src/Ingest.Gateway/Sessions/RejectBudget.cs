namespace Ingest.Gateway.Sessions;

/// <summary>
/// A connection's allowance of rejected messages, as a token bucket (<c>Ingest:Limits:InvalidMessagesPerSecond</c>,
/// bursts of <c>InvalidMessageBurst</c>). Each rejection costs the gateway an error frame and a
/// dead-letter record, more than an event; a client that goes on sending what the contract refuses
/// is closed (1008) once the bucket is empty, so a flood of bad clients cannot take the gateway's
/// capacity from good ones. Used by the connection's reader only.
/// </summary>
internal struct RejectBudget(double perSecond, int burst)
{
    private double _tokens = burst;
    private long _refilledAt;

    /// <summary>Takes one rejection at <paramref name="timestamp"/> (<see cref="TimeProvider.GetTimestamp"/>); false when none was left.</summary>
    public bool TryTake(TimeProvider clock, long timestamp)
    {
        if (burst <= 0)
        {
            return true; // no limit
        }

        if (_refilledAt != 0)
        {
            _tokens = Math.Min(burst, _tokens + (clock.GetElapsedTime(_refilledAt, timestamp).TotalSeconds * perSecond));
        }

        _refilledAt = timestamp;
        if (_tokens < 1)
        {
            return false;
        }

        _tokens--;
        return true;
    }
}
