using Ingest.Gateway.Limits;

namespace Ingest.Gateway.Sessions;

/// <summary>
/// A connection's allowance of rejected messages, as a token bucket (<c>Ingest:Limits:InvalidMessagesPerSecond</c>,
/// bursts of <c>InvalidMessageBurst</c>). Each rejection costs the gateway an error frame and a
/// dead-letter record, more than an event; a client that goes on sending what the contract refuses
/// is closed (1008) once the bucket is empty, so a flood of bad clients cannot take the gateway's
/// capacity from good ones. Each rejection is also taken from the allowance its address shares
/// with its other connections (<see cref="AddressRejects"/>), so that a thousand connections, or
/// one that reconnects after each close, do not get a fresh allowance each. Used by the
/// connection's reader only; its bucket is made at the first rejection, so a connection that
/// sends nothing invalid holds none.
/// </summary>
internal struct RejectBudget(double perSecond, int burst, AddressRejects? address)
{
    private TokenBucket? _bucket;

    /// <summary>
    /// Takes one rejection at <paramref name="timestamp"/> (<see cref="TimeProvider.GetTimestamp"/>)
    /// from the connection's allowance and its address's: <see cref="RejectAllowance.Connection"/>
    /// or <see cref="RejectAllowance.Address"/> when that one had none left.
    /// </summary>
    public RejectAllowance TryTake(TimeProvider clock, long timestamp)
    {
        if (burst > 0 && !(_bucket ??= new TokenBucket(burst)).TryTake(1, perSecond, burst, timestamp, clock))
        {
            return RejectAllowance.Connection;
        }

        return address is null || address.TryTake(timestamp) ? RejectAllowance.Left : RejectAllowance.Address;
    }
}

/// <summary>Which allowance of rejected messages a rejection found spent, if any.</summary>
internal enum RejectAllowance
{
    /// <summary>Both had one left.</summary>
    Left,

    /// <summary>The connection's own.</summary>
    Connection,

    /// <summary>The one its address shares.</summary>
    Address,
}
