using Ingest.Gateway.Streaming;

namespace Ingest.UnitTests.Limits;

/// <summary>
/// A <c>/stream</c> subscriber's queue bounded in bytes (<c>Ingest:Stream:QueueBytes</c>): frames
/// past it are dropped and counted, one frame of any size fits an empty queue, taking frames out
/// makes room, and every drop is handed over exactly once.
/// </summary>
public sealed class StreamQueueBytesTests
{
    [Fact]
    public void FramesPastTheByteBound_AreDroppedAndCounted()
    {
        var subscriber = new StreamSubscriber(null, capacity: 100, maxBytes: 1_000);

        Assert.True(subscriber.TryEnqueue(new byte[300]));
        Assert.True(subscriber.TryEnqueue(new byte[300]));
        Assert.True(subscriber.TryEnqueue(new byte[300]));
        Assert.False(subscriber.TryEnqueue(new byte[300]));
        Assert.False(subscriber.TryEnqueue(new byte[101]));
        Assert.True(subscriber.TryEnqueue(new byte[100]), "a frame that reaches the bound exactly fits");
        Assert.False(subscriber.TryEnqueue(new byte[1]));

        Assert.Equal(1_000, subscriber.QueuedBytes);
        Assert.Equal(3, subscriber.Dropped);
    }

    [Fact]
    public void OneFrameOfAnySize_FitsAnEmptyQueue_AndNothingFitsBesideIt()
    {
        var subscriber = new StreamSubscriber(null, capacity: 100, maxBytes: 1_000);

        Assert.True(subscriber.TryEnqueue(new byte[50_000]));
        Assert.False(subscriber.TryEnqueue(new byte[1]));

        Assert.Equal(50_000, subscriber.QueuedBytes);
        Assert.True(subscriber.TryDequeue(out var item));
        Assert.Equal(50_000, item.Frame.Length);
        Assert.True(subscriber.TryEnqueue(new byte[1]));
    }

    [Fact]
    public void Dequeuing_FreesTheFramesBytes_AndTheNextFrameThatFitsCarriesTheDrops()
    {
        var subscriber = new StreamSubscriber(null, capacity: 100, maxBytes: 1_000);
        Assert.True(subscriber.TryEnqueue(new byte[400]));
        Assert.True(subscriber.TryEnqueue(new byte[400]));
        for (var i = 0; i < 3; i++)
        {
            Assert.False(subscriber.TryEnqueue(new byte[400]));
        }

        Assert.Equal(800, subscriber.QueuedBytes);

        Assert.True(subscriber.TryDequeue(out var first));
        Assert.Equal(0, first.DroppedBefore);
        Assert.Equal(400, subscriber.QueuedBytes);
        Assert.True(subscriber.TryEnqueue(new byte[400]));

        Assert.True(subscriber.TryDequeue(out var second));
        Assert.Equal(0, second.DroppedBefore);
        Assert.True(subscriber.TryDequeue(out var third));
        Assert.Equal(3, third.DroppedBefore); // the frame that fitted after the three drops announces them
        Assert.Equal(0, subscriber.QueuedBytes);
        Assert.Equal(0, subscriber.TakeUndeclaredDrops());
        Assert.Equal(3, subscriber.Dropped);
    }

    [Fact]
    public void DropsWithNoFrameAfterThem_AreTakenOnceTheQueueIsEmpty()
    {
        var subscriber = new StreamSubscriber(null, capacity: 100, maxBytes: 1_000);
        Assert.True(subscriber.TryEnqueue(new byte[900]));
        Assert.False(subscriber.TryEnqueue(new byte[200]));
        Assert.False(subscriber.TryEnqueue(new byte[200]));

        Assert.True(subscriber.TryDequeue(out var item));
        Assert.Equal(0, item.DroppedBefore);
        Assert.False(subscriber.TryDequeue(out _));

        Assert.Equal(2, subscriber.TakeUndeclaredDrops());
        Assert.Equal(0, subscriber.TakeUndeclaredDrops());
        Assert.Equal(2, subscriber.Dropped);
    }
}
