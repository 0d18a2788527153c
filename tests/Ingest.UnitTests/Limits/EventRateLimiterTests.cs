using System.Diagnostics;
using Ingest.Gateway.Configuration;
using Ingest.Gateway.Limits;
using Ingest.Gateway.Pipeline;
using Microsoft.Extensions.Options;

namespace Ingest.UnitTests.Limits;

/// <summary>
/// <see cref="EventRateLimiter"/> on the real clock: a connection's burst goes at once, past it a
/// connection waits about (events - burst) / rate, each connection has its own bucket, and a wait
/// can be cancelled. Time bounds are generous: the machine is shared.
/// </summary>
public sealed class EventRateLimiterTests
{
    private readonly CancellationToken _cancel = TestContext.Current.CancellationToken;

    [Fact]
    public void WithinTheBurst_EveryEventGoesAtOnce()
    {
        var limiter = Limiter(eventsPerSecond: 1_000, burst: 1_000);
        var source = new ItemSource("c1");

        for (var i = 0; i < 10; i++)
        {
            Assert.True(limiter.AcquireAsync(source, 100, _cancel).AsTask().IsCompletedSuccessfully, $"batch {i} of the burst waited");
        }

        // 500 more: half a second of tokens away.
        Assert.False(limiter.AcquireAsync(source, 500, _cancel).AsTask().IsCompleted, "events beyond the burst went at once");
    }

    [Theory]
    [InlineData(1_000, 1_000, 500)] // (1500 - 1000) / 1000 = 0.5 s
    [InlineData(5, 1_000, 5)] // below 10 events/s: (1005 - 1000) / 5 = 1 s
    public async Task BeyondTheBurst_WaitsAboutTheExcessOverTheRate(int eventsPerSecond, int burst, int excess)
    {
        var limiter = Limiter(eventsPerSecond, burst);
        var source = new ItemSource("c1");
        Assert.True(limiter.AcquireAsync(source, burst, _cancel).AsTask().IsCompletedSuccessfully);

        var clock = Stopwatch.StartNew();
        for (var sent = 0; sent < excess; sent += Math.Min(100, excess - sent))
        {
            await limiter.AcquireAsync(source, Math.Min(100, excess - sent), _cancel);
        }

        var expected = TimeSpan.FromSeconds((double)excess / eventsPerSecond);
        // Tokens accrue continuously from the first take, a moment before the clock started.
        Assert.InRange(clock.Elapsed, expected - TimeSpan.FromMilliseconds(50), expected + TimeSpan.FromSeconds(3));
    }

    [Fact]
    public void ABatchLargerThanTheBurst_TakesTheWholeBurst()
    {
        var limiter = Limiter(eventsPerSecond: 1_000, burst: 1_000);
        var source = new ItemSource("c1");

        Assert.True(limiter.AcquireAsync(source, 5_000, _cancel).AsTask().IsCompletedSuccessfully, "a full bucket must let any batch through");
        Assert.False(limiter.AcquireAsync(source, 500, _cancel).AsTask().IsCompleted, "the batch left tokens in the bucket");
    }

    [Fact]
    public void EachConnection_HasItsOwnBucket()
    {
        var limiter = Limiter(eventsPerSecond: 1_000, burst: 1_000);
        var busy = new ItemSource("busy");
        Assert.True(limiter.AcquireAsync(busy, 1_000, _cancel).AsTask().IsCompletedSuccessfully);

        Assert.True(limiter.AcquireAsync(new ItemSource("other"), 1_000, _cancel).AsTask().IsCompletedSuccessfully);
    }

    [Fact]
    public async Task ACancelledWait_ThrowsOperationCanceled()
    {
        var limiter = Limiter(eventsPerSecond: 1_000, burst: 1_000);
        var source = new ItemSource("c1");
        Assert.True(limiter.AcquireAsync(source, 1_000, _cancel).AsTask().IsCompletedSuccessfully);
        using var cancel = new CancellationTokenSource();

        var waiting = limiter.AcquireAsync(source, 1_000, cancel.Token).AsTask();
        Assert.False(waiting.IsCompleted);
        await cancel.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => waiting.WaitAsync(TimeSpan.FromSeconds(10), _cancel));
        // The connection is not stuck behind the abandoned wait: its next events get tokens as they come.
        await limiter.AcquireAsync(source, 10, _cancel).AsTask().WaitAsync(TimeSpan.FromSeconds(10), _cancel);
    }

    private static EventRateLimiter Limiter(int eventsPerSecond, int burst)
    {
        var options = new IngestOptions();
        options.Limits.EventsPerSecond = eventsPerSecond;
        options.Limits.EventBurst = burst;
        return new EventRateLimiter(Options.Create(options));
    }
}
