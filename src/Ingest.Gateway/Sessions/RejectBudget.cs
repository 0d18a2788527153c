using Ingest.Gateway.Limits;

namespace Ingest.Gateway.Sessions;

/// <summary>
/// A connection's allowance of rejected messages, as a token bucket (<c>Ingest:Limits:InvalidMessagesPerSecond</c>,
/// bursts of <c>InvalidMessageBurst</c>). Each rejection costs the gateway an error frame and a
/// dead-letter record, more than an event; a client that goes on sending what the contract refuses
/// is closed (1008) once the bucket is empty, so a flood of bad clients cannot take the gateway's
/// capacity from good ones. Used by the connection's reader only; the bucket is made at the first
/// rejection, so a connection that sends nothing invalid holds none.
/// </summary>
internal struct RejectBudget(double perSecond, int burst)
{
    private TokenBucket? _bucket;

    /// <summary>Takes one rejection at <paramref name="timestamp"/> (<see cref="TimeProvider.GetTimestamp"/>); false when none was left.</summary>
    public bool TryTake(TimeProvider clock, long timestamp) =>
        burst <= 0 || (_bucket ??= new TokenBucket(burst)).TryTake(1, perSecond, burst, timestamp, clock);
}
