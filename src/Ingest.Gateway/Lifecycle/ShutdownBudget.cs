using Ingest.Gateway.Configuration;
using Microsoft.Extensions.Options;

namespace Ingest.Gateway.Lifecycle;

/// <summary>
/// The one time budget of a shutdown (<c>Ingest:Shutdown:TimeoutMs</c>), from the signal to the
/// exit. Connections get the first part: stop reading, resolve what was read, final ack, close.
/// The producer's flush gets the rest, <see cref="FlushReserve"/> at least, for whatever is still
/// on its way to Kafka. The host's own shutdown timeout is <see cref="HostTimeout"/>, a little
/// longer, so that every step ends by this budget's deadlines, not by the host giving up.
/// </summary>
internal sealed class ShutdownBudget : IDisposable
{
    /// <summary>What the host allows beyond the budget: the server's own stop and the other services.</summary>
    private static readonly TimeSpan HostMargin = TimeSpan.FromSeconds(5);

    private readonly TimeProvider _time;
    private readonly CancellationTokenSource _draining = new();
    private readonly CancellationTokenSource _connections;
    private readonly CancellationTokenSource _final;
    private long _startedAt; // TimeProvider timestamp; 0 until Begin

    public ShutdownBudget(IOptions<IngestOptions> options, TimeProvider time)
    {
        _time = time;
        Total = TimeSpan.FromMilliseconds(options.Value.Shutdown.TimeoutMs);
        _connections = new CancellationTokenSource(Timeout.InfiniteTimeSpan, time);
        _final = new CancellationTokenSource(Timeout.InfiniteTimeSpan, time);
    }

    public TimeSpan Total { get; }

    /// <summary>Kept for the producer's flush: a fifth of the budget, at most 5 s.</summary>
    public TimeSpan FlushReserve => FlushReserveOf(Total);

    /// <summary>Whether a shutdown has begun.</summary>
    public bool HasBegun => Volatile.Read(ref _startedAt) != 0;

    /// <summary>Cancelled when the shutdown begins: every connection starts its drain.</summary>
    public CancellationToken Draining => _draining.Token;

    /// <summary>Cancelled when the connections' share is spent: they close with what resolved by then.</summary>
    public CancellationToken Connections => _connections.Token;

    /// <summary>Cancelled when the whole budget is spent.</summary>
    public CancellationToken Final => _final.Token;

    /// <summary>Time left of the whole budget (the full budget before it began).</summary>
    public TimeSpan Remaining => HasBegun ? Max(Total - _time.GetElapsedTime(Volatile.Read(ref _startedAt)), TimeSpan.Zero) : Total;

    /// <summary>The host's shutdown timeout for a budget of <paramref name="total"/>.</summary>
    public static TimeSpan HostTimeout(TimeSpan total) => total + HostMargin;

    public static TimeSpan FlushReserveOf(TimeSpan total) => TimeSpan.FromTicks(Math.Min(total.Ticks / 5, TimeSpan.FromSeconds(5).Ticks));

    /// <summary>Starts the clock; later calls do nothing.</summary>
    public void Begin()
    {
        if (Interlocked.CompareExchange(ref _startedAt, _time.GetTimestamp(), 0) != 0)
        {
            return;
        }

        _connections.CancelAfter(Total - FlushReserve);
        _final.CancelAfter(Total);
        _draining.Cancel();
    }

    public void Dispose()
    {
        _draining.Dispose();
        _connections.Dispose();
        _final.Dispose();
    }

    private static TimeSpan Max(TimeSpan a, TimeSpan b) => a > b ? a : b;
}
