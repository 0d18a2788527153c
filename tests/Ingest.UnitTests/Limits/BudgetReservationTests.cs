using Ingest.Gateway.Pipeline;

namespace Ingest.UnitTests.Limits;

/// <summary>
/// <see cref="MemoryBudget"/>: bytes are taken and given back exactly, waiters are served in arrival
/// order, and a waiter that gives up (cancelled, or granted and cancelled at once) keeps nothing.
/// </summary>
public sealed class BudgetReservationTests
{
    [Fact]
    public async Task ReserveAndRelease_InUseFollowsEveryByte()
    {
        var budget = new MemoryBudget(100);

        Assert.True(budget.TryReserve(30));
        var rest = budget.ReserveAsync(70, TestContext.Current.CancellationToken);

        Assert.True(rest.IsCompletedSuccessfully, "70 free bytes must be granted at once");
        await rest;
        Assert.Equal(100, budget.InUse);
        Assert.False(budget.TryReserve(1));

        budget.Release(30);
        Assert.Equal(70, budget.InUse);
        Assert.True(budget.TryReserve(30));
        budget.Release(100);
        Assert.Equal(0, budget.InUse);
    }

    [Fact]
    public async Task Waiters_AreServedInArrivalOrder_ABigWaiterIsNotStarvedByLaterSmallOnes()
    {
        var budget = new MemoryBudget(100);
        Assert.True(budget.TryReserve(100));

        var big = budget.ReserveAsync(80, TestContext.Current.CancellationToken).AsTask();
        var small = budget.ReserveAsync(10, TestContext.Current.CancellationToken).AsTask();
        Assert.Equal(2, budget.Waiting);

        // 20 free bytes: enough for the small waiter, but the big one came first.
        budget.Release(20);
        Assert.False(big.IsCompleted);
        Assert.False(small.IsCompleted, "a later small waiter overtook the big one");
        Assert.False(budget.TryReserve(5), "TryReserve overtook the waiters");

        budget.Release(60);
        await big.WaitAsync(TimeSpan.FromSeconds(10), TestContext.Current.CancellationToken);
        Assert.False(small.IsCompleted);
        Assert.Equal(100, budget.InUse);

        budget.Release(10);
        await small.WaitAsync(TimeSpan.FromSeconds(10), TestContext.Current.CancellationToken);
        Assert.Equal(0, budget.Waiting);
        Assert.Equal(100, budget.InUse);
    }

    [Fact]
    public async Task CancelledWaiter_GetsNothing_AndNoLongerHoldsUpTheWaitersBehindIt()
    {
        var budget = new MemoryBudget(100);
        Assert.True(budget.TryReserve(100));
        using var cancel = new CancellationTokenSource();
        var cancelled = budget.ReserveAsync(90, cancel.Token).AsTask();
        var behind = budget.ReserveAsync(30, TestContext.Current.CancellationToken).AsTask();

        await cancel.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => cancelled);
        Assert.Equal(1, budget.Waiting);
        Assert.Equal(100, budget.InUse);
        budget.Release(30);
        await behind.WaitAsync(TimeSpan.FromSeconds(10), TestContext.Current.CancellationToken);
        budget.Release(100);
        Assert.Equal(0, budget.InUse);
        Assert.Equal(0, budget.Waiting);
    }

    [Fact]
    public async Task WaiterCancelledBeforeItsGrantIsSeen_GivesTheGrantedBytesBack()
    {
        var budget = new MemoryBudget(100);
        Assert.True(budget.TryReserve(100));
        using var cancel = new CancellationTokenSource();
        var waiter = budget.ReserveAsync(100, cancel.Token).AsTask();

        // Cancelled first (the waiter's continuation runs later, on the pool), then granted on this
        // thread: the bytes were handed to a waiter that will report a cancellation.
        cancel.Cancel();
        budget.Release(100);

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => waiter);
        Assert.Equal(0, budget.InUse);
        Assert.Equal(0, budget.Waiting);
        Assert.True(budget.TryReserve(100), "the granted bytes were not given back");
    }

    [Fact]
    public async Task GrantRacingCancel_NeverLeaksBytes()
    {
        var budget = new MemoryBudget(100);
        var granted = 0;
        var cancelled = 0;
        for (var i = 0; i < 500; i++)
        {
            Assert.True(budget.TryReserve(100));
            using var cancel = new CancellationTokenSource();
            var waiter = budget.ReserveAsync(60, cancel.Token).AsTask();

            // The grant (bytes given back) and the cancellation start together on two threads, each
            // after a random spin, so that either may win and they may interleave.
            using var start = new Barrier(2);
            var spins = (Release: Random.Shared.Next(0, 400), Cancel: Random.Shared.Next(0, 400));
            var release = Task.Run(
                () =>
                {
                    start.SignalAndWait(TestContext.Current.CancellationToken);
                    Thread.SpinWait(spins.Release);
                    budget.Release(100);
                },
                TestContext.Current.CancellationToken);
            var cancelling = Task.Run(
                () =>
                {
                    start.SignalAndWait(TestContext.Current.CancellationToken);
                    Thread.SpinWait(spins.Cancel);
                    cancel.Cancel();
                },
                TestContext.Current.CancellationToken);
            await Task.WhenAll(release, cancelling);

            try
            {
                await waiter;
                granted++;
                budget.Release(60); // granted before it was cancelled: the caller holds the bytes
            }
            catch (OperationCanceledException)
            {
                cancelled++;
            }

            Assert.Equal(0, budget.InUse);
            Assert.Equal(0, budget.Waiting);
        }

        TestContext.Current.TestOutputHelper?.WriteLine($"{granted} granted, {cancelled} cancelled");
        Assert.Equal(500, granted + cancelled);
    }

    [Fact]
    public async Task ZeroBytes_AreAlwaysThere_EvenWhenTheBudgetIsFullAndOthersWait()
    {
        var budget = new MemoryBudget(10);
        Assert.True(budget.TryReserve(10));
        var waiting = budget.ReserveAsync(5, TestContext.Current.CancellationToken).AsTask();

        Assert.True(budget.TryReserve(0));
        Assert.True(budget.ReserveAsync(0, TestContext.Current.CancellationToken).AsTask().IsCompletedSuccessfully);
        budget.Release(0);

        Assert.Equal(10, budget.InUse);
        Assert.Equal(1, budget.Waiting);
        budget.Release(10);
        await waiting;
        Assert.Equal(5, budget.InUse);
    }

    [Fact]
    public void ReleasingMoreThanWasReserved_Throws_AndLeavesTheBudgetAsItWas()
    {
        var budget = new MemoryBudget(100);
        Assert.True(budget.TryReserve(40));

        Assert.Throws<InvalidOperationException>(() => budget.Release(41));

        // The budget still holds the 40 bytes: it did not grow by the bytes wrongly given back.
        Assert.Equal(40, budget.InUse);
        Assert.False(budget.TryReserve(61));
        Assert.True(budget.TryReserve(60));
    }

    [Fact]
    public void Requests_BeyondTheWholeBudgetOrNegative_Throw()
    {
        var budget = new MemoryBudget(100);

        Assert.Throws<ArgumentOutOfRangeException>(() => budget.TryReserve(101));
        Assert.Throws<ArgumentOutOfRangeException>(() => budget.TryReserve(-1));
        Assert.Throws<ArgumentOutOfRangeException>(() => budget.Release(-1));
        Assert.Equal(0, budget.InUse);
    }
}
