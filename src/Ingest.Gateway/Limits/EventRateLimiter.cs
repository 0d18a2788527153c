using System.Threading.RateLimiting;
using Ingest.Gateway.Configuration;
using Ingest.Gateway.Pipeline;
using Microsoft.Extensions.Options;

namespace Ingest.Gateway.Limits;

/// <summary>
/// Each connection's event rate as a token bucket (<c>Ingest:Limits:EventsPerSecond</c>, bursts of
/// <c>EventBurst</c>): a connection past its rate waits for tokens, so the gateway reads it more
/// slowly and TCP slows its client; nothing is dropped. One partitioned limiter serves every
/// connection: it replenishes all buckets on one timer and forgets a connection's bucket once it
/// has been full (idle) for a while, so idle connections cost nothing.
/// </summary>
internal sealed class EventRateLimiter : IDisposable
{
    private readonly PartitionedRateLimiter<ItemSource> _limiter;
    private readonly int _burst;

    public EventRateLimiter(IOptions<IngestOptions> options)
    {
        var limits = options.Value.Limits;
        _burst = limits.EventBurst;
        // Replenished every 100 ms (a tenth of the rate each time) so that the rate is smooth; below
        // 10 events/s, one token per period of 1/rate seconds.
        var (period, tokens) = limits.EventsPerSecond >= 10
            ? (TimeSpan.FromMilliseconds(100), limits.EventsPerSecond / 10)
            : (TimeSpan.FromSeconds(1.0 / limits.EventsPerSecond), 1);
        var bucket = new TokenBucketRateLimiterOptions
        {
            TokenLimit = _burst,
            TokensPerPeriod = tokens,
            ReplenishmentPeriod = period,
            QueueLimit = _burst, // one reader per connection: at most one request waits
            QueueProcessingOrder = QueueProcessingOrder.OldestFirst,
            AutoReplenishment = false, // the partitioned limiter's one timer replenishes every bucket
        };
        _limiter = PartitionedRateLimiter.Create<ItemSource, ItemSource>(source => RateLimitPartition.GetTokenBucketLimiter(source, _ => bucket));
    }

    /// <summary>Takes a token per event (a batch larger than the burst takes the whole burst), waiting for them if it must.</summary>
    public ValueTask AcquireAsync(ItemSource source, int events, CancellationToken cancellationToken)
    {
        var permits = Math.Min(events, _burst);
        using (var lease = _limiter.AttemptAcquire(source, permits))
        {
            if (lease.IsAcquired)
            {
                return ValueTask.CompletedTask;
            }
        }

        return WaitAsync(source, permits, cancellationToken);
    }

    public void Dispose() => _limiter.Dispose();

    private async ValueTask WaitAsync(ItemSource source, int permits, CancellationToken cancellationToken)
    {
        using var lease = await _limiter.AcquireAsync(source, permits, cancellationToken);
    }
}
