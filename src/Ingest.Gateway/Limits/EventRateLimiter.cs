using Ingest.Gateway.Configuration;
using Ingest.Gateway.Pipeline;
using Microsoft.Extensions.Options;

namespace Ingest.Gateway.Limits;

/// <summary>
/// Each connection's event rate as a token bucket (<c>Ingest:Limits:EventsPerSecond</c>, bursts of
/// <c>EventBurst</c>): a connection past its rate waits for tokens, so the gateway reads it more
/// slowly and TCP slows its client; nothing is dropped. The bucket lives on the connection's
/// <see cref="ItemSource"/> and only its reader uses it, so taking a token is two arithmetic
/// operations with no lock, no allocation and no timer; idle connections cost nothing.
/// </summary>
/// <remarks>
/// A <c>PartitionedRateLimiter</c> did this before: a lock, a dictionary lookup and a lease object
/// per message, and a heartbeat walking every connection's bucket ten times a second.
/// </remarks>
internal sealed class EventRateLimiter(IOptions<IngestOptions> options, TimeProvider? timeProvider = null)
{
    private readonly double _perSecond = options.Value.Limits.EventsPerSecond;
    private readonly int _burst = options.Value.Limits.EventBurst;
    private readonly TimeProvider _time = timeProvider ?? TimeProvider.System;

    /// <summary>Takes a token per event (a batch larger than the burst takes the whole burst), waiting for them if it must.</summary>
    public ValueTask AcquireAsync(ItemSource source, int events, CancellationToken cancellationToken)
    {
        var permits = Math.Min(events, _burst);
        var bucket = source.RateBucket ??= new TokenBucket(_burst);
        return bucket.TryTake(permits, _perSecond, _burst, _time.GetTimestamp(), _time)
            ? ValueTask.CompletedTask
            : WaitAsync(bucket, permits, cancellationToken);
    }

    private async ValueTask WaitAsync(TokenBucket bucket, int permits, CancellationToken cancellationToken)
    {
        do
        {
            await Task.Delay(bucket.TimeUntil(permits, _perSecond), _time, cancellationToken);
        }
        while (!bucket.TryTake(permits, _perSecond, _burst, _time.GetTimestamp(), _time));
    }
}

/// <summary>A token bucket; not thread-safe (one connection's reader uses it, or its owner locks).</summary>
internal sealed class TokenBucket(int tokens)
{
    private double _tokens = tokens;
    private long _refilledAt;

    /// <summary>Refills by the time since the last call, then takes <paramref name="permits"/> if they are there.</summary>
    public bool TryTake(int permits, double perSecond, int burst, long timestamp, TimeProvider time)
    {
        _tokens = Available(perSecond, burst, timestamp, time);
        _refilledAt = timestamp;
        if (_tokens < permits)
        {
            return false;
        }

        _tokens -= permits;
        return true;
    }

    /// <summary>The tokens there would be at <paramref name="timestamp"/>, taking none.</summary>
    public double Available(double perSecond, int burst, long timestamp, TimeProvider time) =>
        _refilledAt == 0 ? _tokens : Math.Min(burst, _tokens + (time.GetElapsedTime(_refilledAt, timestamp).TotalSeconds * perSecond));

    /// <summary>How long until <paramref name="permits"/> tokens are there (at least a millisecond).</summary>
    public TimeSpan TimeUntil(int permits, double perSecond) =>
        TimeSpan.FromSeconds(Math.Max(0.001, (permits - _tokens) / perSecond));
}
