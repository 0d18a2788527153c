using System.Text;
using Ingest.Gateway.Sessions;

namespace Ingest.UnitTests.Sessions;

public sealed class OutboundQueueTests
{
    private static OutboundFrame Text(string text) => OutboundFrame.Frame(Encoding.UTF8.GetBytes(text));

    private static string Read(OutboundQueue queue)
    {
        Assert.True(queue.TryRead(out var frame));
        return Encoding.UTF8.GetString(frame.Text!);
    }

    [Fact]
    public async Task Frames_AreReadInTheOrderWritten_AndAWaitEndsAtTheNextWrite()
    {
        var queue = new OutboundQueue();
        Assert.False(queue.TryRead(out _));
        var wait = queue.WaitToReadAsync(TestContext.Current.CancellationToken);
        Assert.False(wait.IsCompleted);

        Assert.True(queue.TryWrite(Text("a")));
        Assert.True(queue.TryWrite(Text("b")));
        Assert.True(await wait);
        Assert.Equal("a", Read(queue));
        Assert.Equal("b", Read(queue));
        Assert.False(queue.TryRead(out _));

        // The same wait object serves the next wait.
        var next = queue.WaitToReadAsync(TestContext.Current.CancellationToken);
        Assert.False(next.IsCompleted);
        Assert.True(queue.TryWrite(Text("c")));
        Assert.True(await next);
        Assert.Equal("c", Read(queue));
    }

    [Fact]
    public async Task Completion_LetsTheReaderTakeWhatIsQueued_ThenWaitsAnswerFalse_AndWritesAreRefused()
    {
        var queue = new OutboundQueue();
        var completion = queue.Completion;
        Assert.True(queue.TryWrite(Text("last")));
        Assert.True(queue.TryComplete());
        Assert.False(queue.TryComplete());
        Assert.False(queue.TryWrite(Text("too late")));
        Assert.False(completion.IsCompleted);

        Assert.True(await queue.WaitToReadAsync(TestContext.Current.CancellationToken));
        Assert.Equal("last", Read(queue));
        await completion.WaitAsync(TimeSpan.FromSeconds(10), TestContext.Current.CancellationToken);
        Assert.False(await queue.WaitToReadAsync(TestContext.Current.CancellationToken));
        Assert.True(queue.Completion.IsCompleted);
    }

    [Fact]
    public async Task CompletingAnEmptyQueue_EndsAPendingWaitWithFalse()
    {
        var queue = new OutboundQueue();
        var wait = queue.WaitToReadAsync(TestContext.Current.CancellationToken);
        Assert.True(queue.TryComplete());
        Assert.False(await wait);
        Assert.True(queue.Completion.IsCompleted);
    }

    [Fact]
    public async Task ACancelledWait_Throws_AndTheNextWaitStillWorks()
    {
        var queue = new OutboundQueue();
        using var cancel = new CancellationTokenSource();
        var wait = queue.WaitToReadAsync(cancel.Token);
        await cancel.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await wait);

        var next = queue.WaitToReadAsync(TestContext.Current.CancellationToken);
        Assert.True(queue.TryWrite(Text("after")));
        Assert.True(await next);
        Assert.Equal("after", Read(queue));
    }

    [Fact]
    public async Task ManyWritersAndOneReader_EveryFrameArrivesOnce_InEachWritersOrder()
    {
        const int writers = 4, frames = 20_000;
        var queue = new OutboundQueue();
        var seen = new int[writers];
        var reader = Task.Run(
            async () =>
            {
                var count = 0;
                while (await queue.WaitToReadAsync())
                {
                    while (queue.TryRead(out var frame))
                    {
                        var writer = (int)frame.Answers / frames;
                        Assert.Equal(seen[writer], (int)frame.Answers % frames);
                        seen[writer]++;
                        count++;
                    }
                }

                return count;
            },
            TestContext.Current.CancellationToken);

        await Task.WhenAll(Enumerable.Range(0, writers).Select(w => Task.Run(
            () =>
            {
                for (var i = 0; i < frames; i++)
                {
                    Assert.True(queue.TryWrite(new OutboundFrame(OutboundKind.Ack, Answers: (w * frames) + i)));
                }
            },
            TestContext.Current.CancellationToken)));
        queue.TryComplete();

        Assert.Equal(writers * frames, await reader.WaitAsync(TimeSpan.FromSeconds(30), TestContext.Current.CancellationToken));
        Assert.All(seen, count => Assert.Equal(frames, count));
    }
}
