namespace Ingest.Gateway.Limits;

/// <summary>
/// One client address's allowance of rejected messages, shared by all its connections
/// (<c>Ingest:Limits:InvalidMessagesPerSecondPerAddress</c>, bursts of <c>InvalidMessageBurstPerAddress</c>).
/// A connection's own allowance stops one client; this one stops a thousand connections from one
/// address from each spending a fresh allowance, and it outlives them: an address that reconnects
/// at once finds its allowance where it left it (<see cref="WebSockets.ConnectionRegistry"/> keeps it
/// until it has refilled). Only clients that send what the contract refuses spend it, so good
/// clients behind the same NAT address lose nothing.
/// </summary>
internal sealed class AddressRejects(double perSecond, int burst, TimeProvider time)
{
    private readonly Lock _lock = new();
    private TokenBucket? _bucket; // made at the address's first rejection

    /// <summary>Takes one rejection; false when the address has none left.</summary>
    public bool TryTake(long timestamp)
    {
        if (burst <= 0)
        {
            return true;
        }

        lock (_lock)
        {
            return (_bucket ??= new TokenBucket(burst)).TryTake(1, perSecond, burst, timestamp, time);
        }
    }

    /// <summary>True when forgetting the address would give it nothing back: it never spent any, or all has refilled.</summary>
    public bool IsFull(long timestamp)
    {
        lock (_lock)
        {
            return _bucket is null || _bucket.Available(perSecond, burst, timestamp, time) >= burst;
        }
    }
}
