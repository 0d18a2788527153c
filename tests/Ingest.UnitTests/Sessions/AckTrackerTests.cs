using Ingest.Gateway.Sessions;

namespace Ingest.UnitTests.Sessions;

public sealed class AckTrackerTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    private readonly AckTracker _tracker = new();

    [Fact]
    public void NewTracker_NothingRegisteredOrResolved()
    {
        Assert.Equal(0, _tracker.LastRegistered);
        Assert.Equal(0, _tracker.ResolvedUpTo);
    }

    [Fact]
    public void Register_NumbersMessages1_2_3InArrivalOrder()
    {
        Assert.Equal(new long[] { 1, 2, 3 }, new[] { _tracker.Register(), _tracker.Register(), _tracker.Register() });
        Assert.Equal(3, _tracker.LastRegistered);
        Assert.Equal(0, _tracker.ResolvedUpTo);
    }

    [Fact]
    public void Resolve_InOrder_ResolvedUpToFollowsEachMessage()
    {
        RegisterMany(3);

        _tracker.Resolve(1);
        Assert.Equal(1, _tracker.ResolvedUpTo);
        _tracker.Resolve(2);
        Assert.Equal(2, _tracker.ResolvedUpTo);
        _tracker.Resolve(3);
        Assert.Equal(3, _tracker.ResolvedUpTo);
    }

    [Fact]
    public void Resolve_OutOfOrder_ResolvedUpToIsTheResolvedPrefix()
    {
        RegisterMany(5);

        _tracker.Resolve(2);
        _tracker.Resolve(3);
        _tracker.Resolve(5);
        Assert.Equal(0, _tracker.ResolvedUpTo);

        _tracker.Resolve(1);
        Assert.Equal(3, _tracker.ResolvedUpTo);

        _tracker.Resolve(4);
        Assert.Equal(5, _tracker.ResolvedUpTo);
    }

    [Fact]
    public void Resolve_ReverseOrderOfManyPending_CumulativeOnlyWhenTheFirstResolves()
    {
        RegisterMany(100);

        for (var sequence = 100L; sequence >= 2; sequence--)
        {
            _tracker.Resolve(sequence);
            Assert.Equal(0, _tracker.ResolvedUpTo);
        }

        _tracker.Resolve(1);
        Assert.Equal(100, _tracker.ResolvedUpTo);
    }

    [Fact]
    public void Register_MoreThan16Pending_GrowsAndKeepsEveryResolution()
    {
        RegisterMany(40);
        for (var sequence = 2L; sequence <= 40; sequence += 2)
        {
            _tracker.Resolve(sequence);
        }

        // More registrations while the resolved even numbers are still pending behind 1.
        RegisterMany(30);
        Assert.Equal(70, _tracker.LastRegistered);
        Assert.Equal(0, _tracker.ResolvedUpTo);

        _tracker.Resolve(1);
        Assert.Equal(2, _tracker.ResolvedUpTo);
        _tracker.Resolve(3);
        Assert.Equal(4, _tracker.ResolvedUpTo);
        for (var sequence = 5L; sequence <= 39; sequence += 2)
        {
            _tracker.Resolve(sequence);
        }

        Assert.Equal(40, _tracker.ResolvedUpTo);
        for (var sequence = 70L; sequence > 40; sequence--)
        {
            _tracker.Resolve(sequence);
        }

        Assert.Equal(70, _tracker.ResolvedUpTo);
    }

    [Fact]
    public void Register_GrowthAfterTheRingWrapped_KeepsPendingState()
    {
        // Move the window so that the pending range wraps around the end of the initial ring
        // (slots are reused once the ack covering them went out).
        for (var i = 0; i < 13; i++)
        {
            _tracker.Resolve(_tracker.Register());
        }

        _tracker.Acknowledged(13);

        RegisterMany(16); // 14..29: exactly full
        _tracker.Resolve(20);
        _tracker.Resolve(29);
        RegisterMany(5); // 30..34: grows while 20 and 29 are resolved and 14 is not

        _tracker.Resolve(30);
        for (var sequence = 14L; sequence <= 19; sequence++)
        {
            _tracker.Resolve(sequence);
        }

        Assert.Equal(20, _tracker.ResolvedUpTo);
        for (var sequence = 21L; sequence <= 28; sequence++)
        {
            _tracker.Resolve(sequence);
        }

        Assert.Equal(30, _tracker.ResolvedUpTo);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public void RegisterAndResolve_RandomInterleaving_MatchesASimpleModel(int seed)
    {
        var random = new Random(seed);
        var pending = new List<long>();
        var resolved = new HashSet<long>();
        long registered = 0;
        for (var step = 0; step < 20_000; step++)
        {
            if (pending.Count == 0 || random.Next(100) < 52)
            {
                var sequence = _tracker.Register();
                Assert.Equal(++registered, sequence);
                pending.Add(sequence);
            }
            else
            {
                var index = random.Next(pending.Count);
                var sequence = pending[index];
                pending[index] = pending[^1];
                pending.RemoveAt(pending.Count - 1);
                _tracker.Resolve(sequence);
                resolved.Add(sequence);
            }

            var upTo = 0L;
            while (resolved.Contains(upTo + 1))
            {
                upTo++;
            }

            Assert.Equal(upTo, _tracker.ResolvedUpTo);
        }
    }

    [Fact]
    public void Resolve_AlreadyCoveredByTheAck_Throws()
    {
        RegisterMany(2);
        _tracker.Resolve(1);

        Assert.Throws<InvalidOperationException>(() => _tracker.Resolve(1));
        Assert.Equal(1, _tracker.ResolvedUpTo);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(-1)]
    [InlineData(3)]
    [InlineData(long.MaxValue)]
    public void Resolve_NotRegistered_Throws(long sequence)
    {
        RegisterMany(2);

        Assert.Throws<InvalidOperationException>(() => _tracker.Resolve(sequence));
        Assert.Equal(0, _tracker.ResolvedUpTo);
    }

    [Fact]
    public void Resolve_AMessageAlreadyResolved_Throws()
    {
        var sequence = _tracker.Register();
        _tracker.Register(); // keeps message 1's slot in the ring after it resolves
        _tracker.Resolve(sequence);

        Assert.Throws<InvalidOperationException>(() => _tracker.Resolve(sequence));
    }

    [Fact]
    public void Resolve_ExtraPartOfAMessageStillPending_Throws()
    {
        _tracker.Register();
        var second = _tracker.Register();
        _tracker.Resolve(second);

        Assert.Throws<InvalidOperationException>(() => _tracker.Resolve(second));
        Assert.Equal(0, _tracker.ResolvedUpTo);
    }

    [Fact]
    public void WhenResolvedAsync_AlreadyResolved_CompletesAtOnce()
    {
        RegisterMany(3);
        _tracker.Resolve(1);
        _tracker.Resolve(2);

        Assert.True(_tracker.WhenResolvedAsync(0).IsCompletedSuccessfully);
        Assert.True(_tracker.WhenResolvedAsync(2).IsCompletedSuccessfully);
    }

    [Fact]
    public void WhenResolvedAsync_NothingRegistered_UpTo0CompletesAtOnce()
    {
        Assert.True(_tracker.WhenResolvedAsync(0).IsCompletedSuccessfully);
    }

    [Fact]
    public async Task WhenResolvedAsync_CompletesExactlyWhenThePrefixResolves()
    {
        RegisterMany(4);
        var waiting = _tracker.WhenResolvedAsync(3);

        _tracker.Resolve(3);
        Assert.False(waiting.IsCompleted);
        _tracker.Resolve(2);
        Assert.False(waiting.IsCompleted);
        _tracker.Resolve(4);
        Assert.False(waiting.IsCompleted);

        _tracker.Resolve(1);
        Assert.True(waiting.IsCompleted);
        await waiting.WaitAsync(Timeout, TestContext.Current.CancellationToken);
    }

    [Fact]
    public void WhenResolvedAsync_ResolvedInOrder_NotBeforeTheLastOfThePrefix()
    {
        RegisterMany(3);
        var waiting = _tracker.WhenResolvedAsync(2);

        _tracker.Resolve(1);
        Assert.False(waiting.IsCompleted);
        _tracker.Resolve(2);
        Assert.True(waiting.IsCompletedSuccessfully);
    }

    [Fact]
    public void WhenResolvedAsync_BeyondTheLastRegistered_WaitsForLaterMessages()
    {
        RegisterMany(1);
        var waiting = _tracker.WhenResolvedAsync(2);

        _tracker.Resolve(1);
        Assert.False(waiting.IsCompleted);

        _tracker.Resolve(_tracker.Register());
        Assert.True(waiting.IsCompletedSuccessfully);
    }

    [Fact]
    public void WhenResolvedAsync_SecondWaiterWhileOneWaits_Throws()
    {
        RegisterMany(2);
        var first = _tracker.WhenResolvedAsync(1);

        // Thrown at the call, not through the task.
        Assert.Throws<InvalidOperationException>(() => { _ = _tracker.WhenResolvedAsync(2); });
        Assert.False(first.IsCompleted);
    }

    [Fact]
    public void WhenResolvedAsync_AfterTheFirstWaiterCompleted_AcceptsANewWaiter()
    {
        RegisterMany(2);
        var first = _tracker.WhenResolvedAsync(1);
        _tracker.Resolve(1);
        Assert.True(first.IsCompletedSuccessfully);

        var second = _tracker.WhenResolvedAsync(2);
        Assert.False(second.IsCompleted);
        _tracker.Resolve(2);
        Assert.True(second.IsCompletedSuccessfully);
    }

    [Fact]
    public async Task Resolve_FromManyThreadsInRandomOrder_EndsWithEveryMessageResolved()
    {
        const int Count = 100_000;
        RegisterMany(Count);
        var order = Enumerable.Range(1, Count).Select(i => (long)i).ToArray();
        new Random(8).Shuffle(order);
        var waiting = _tracker.WhenResolvedAsync(Count);

        Parallel.ForEach(order, new ParallelOptions { MaxDegreeOfParallelism = 4 }, _tracker.Resolve);

        Assert.Equal(Count, _tracker.ResolvedUpTo);
        await waiting.WaitAsync(Timeout, TestContext.Current.CancellationToken);
    }

    [Fact]
    public void RegisterAndResolve_FromManyThreads_EndsWithEveryMessageResolved()
    {
        const int Count = 100_000;

        Parallel.For(0, Count, new ParallelOptions { MaxDegreeOfParallelism = 4 }, _ => _tracker.Resolve(_tracker.Register()));

        Assert.Equal(Count, _tracker.LastRegistered);
        Assert.Equal(Count, _tracker.ResolvedUpTo);
    }

    [Fact]
    public void RegisterAndResolveLater_FromManyThreads_EndsWithEveryMessageResolved()
    {
        const int Count = 50_000;
        var registered = new System.Collections.Concurrent.ConcurrentQueue<long>();

        // Half the iterations register, the other half resolve whatever was registered, so that
        // resolutions race registrations and growth of the ring.
        Parallel.For(0, 2 * Count, new ParallelOptions { MaxDegreeOfParallelism = 4 }, i =>
        {
            if (i % 2 == 0)
            {
                registered.Enqueue(_tracker.Register());
            }
            else if (registered.TryDequeue(out var sequence))
            {
                _tracker.Resolve(sequence);
            }
        });
        while (registered.TryDequeue(out var sequence))
        {
            _tracker.Resolve(sequence);
        }

        Assert.Equal(Count, _tracker.LastRegistered);
        Assert.Equal(Count, _tracker.ResolvedUpTo);
    }

    [Fact]
    public void ReceivedTimes_StayUntilTheAckGoesOut_ThroughGrowthAndWrapping()
    {
        for (var sequence = 1L; sequence <= 40; sequence++)
        {
            _tracker.Register(receivedAt: 1_000 + sequence);
        }

        for (var sequence = 40L; sequence >= 1; sequence--)
        {
            _tracker.Resolve(sequence);
        }

        AssertTimes(from: 1, upTo: 40);
        _tracker.Acknowledged(30);
        for (var sequence = 41L; sequence <= 110; sequence++)
        {
            _tracker.Register(receivedAt: 1_000 + sequence); // reuses the freed slots of the 64-slot ring, then grows
        }

        AssertTimes(from: 31, upTo: 110);
        _tracker.Acknowledged(100); // no further than what is resolved
        AssertTimes(from: 41, upTo: 110);
    }

    [Fact]
    public void ReceivedTimes_NothingRegistered_IsEmptyFromOne()
    {
        Assert.Empty(_tracker.ReceivedTimes(out var from));
        Assert.Equal(1, from);
    }

    /// <summary>The times from <see cref="AckTracker.ReceivedTimes"/> start at <paramref name="from"/> and are 1000 + sequence up to <paramref name="upTo"/>.</summary>
    private void AssertTimes(long from, long upTo)
    {
        var times = _tracker.ReceivedTimes(out var first);
        Assert.Equal(from, first);
        for (var sequence = from; sequence <= upTo; sequence++)
        {
            Assert.Equal(1_000 + sequence, times[sequence & (times.Length - 1)]);
        }
    }

    private void RegisterMany(int count)
    {
        for (var i = 0; i < count; i++)
        {
            _tracker.Register();
        }
    }
}
