using Ingest.LoadTest.Engine;

namespace Ingest.UnitTests.LoadTest;

public sealed class SendWindowTests
{
    [Fact]
    public void Acquire_UpToTheSize_CompletesAtOnce()
    {
        var window = new SendWindow(3);

        for (var i = 0; i < 3; i++)
        {
            Assert.True(window.AcquireAsync(TestContext.Current.CancellationToken).AsTask().IsCompletedSuccessfully);
        }

        Assert.Equal(3, window.InFlight);
    }

    [Fact]
    public async Task Acquire_WhenFull_WaitsUntilARelease()
    {
        var window = new SendWindow(2);
        await window.AcquireAsync(TestContext.Current.CancellationToken);
        await window.AcquireAsync(TestContext.Current.CancellationToken);

        var third = window.AcquireAsync(TestContext.Current.CancellationToken).AsTask();
        Assert.False(third.IsCompleted);

        window.Release(1);
        await third.WaitAsync(TimeSpan.FromSeconds(10), TestContext.Current.CancellationToken);
        Assert.Equal(2, window.InFlight);
    }

    [Fact]
    public async Task Release_OfSeveralSlots_LetsAsManyWaitersThrough()
    {
        var window = new SendWindow(2);
        await window.AcquireAsync(TestContext.Current.CancellationToken);
        await window.AcquireAsync(TestContext.Current.CancellationToken);
        var waiters = Enumerable.Range(0, 3).Select(_ => window.AcquireAsync(TestContext.Current.CancellationToken).AsTask()).ToArray();

        window.Release(2);
        var first = await Task.WhenAny(waiters).WaitAsync(TimeSpan.FromSeconds(10), TestContext.Current.CancellationToken);
        await first;
        await Task.WhenAny(waiters.Where(w => w != first)).WaitAsync(TimeSpan.FromSeconds(10), TestContext.Current.CancellationToken);

        Assert.Equal(2, waiters.Count(w => w.IsCompletedSuccessfully));
        Assert.Equal(2, window.InFlight);
        window.Release(1);
        await Task.WhenAll(waiters).WaitAsync(TimeSpan.FromSeconds(10), TestContext.Current.CancellationToken);
        Assert.Equal(2, window.InFlight);
    }

    [Fact]
    public async Task Acquire_Cancelled_ThrowsAndTakesNoSlot()
    {
        var window = new SendWindow(1);
        await window.AcquireAsync(TestContext.Current.CancellationToken);
        using var cancel = new CancellationTokenSource();

        var waiting = window.AcquireAsync(cancel.Token).AsTask();
        await cancel.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => waiting);
        window.Release(1);
        Assert.Equal(0, window.InFlight);
    }
}
