using System.Threading.Channels;

namespace Ingest.Gateway.Streaming;

/// <summary>A frame waiting for one subscriber, and how many events were dropped just before it.</summary>
internal readonly record struct StreamItem(byte[] Frame, long DroppedBefore);

/// <summary>
/// One <c>/stream</c> client: its filter and its bounded queue. The consumer thread offers frames
/// and never waits: when the queue is full the frame is dropped and counted, and the count is
/// handed to the client with the next frame that fits, or taken by the writer once the queue is
/// empty, so every drop is reported exactly once.
/// </summary>
internal sealed class StreamSubscriber
{
    private readonly Channel<StreamItem> _queue;
    private readonly TaskCompletionSource<bool> _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private long _undeclaredDrops;
    private long _dropped;

    public StreamSubscriber(string? clientId, int capacity)
    {
        ClientId = clientId;
        _queue = Channel.CreateBounded<StreamItem>(new BoundedChannelOptions(capacity)
        {
            SingleReader = true,
            SingleWriter = true,
            // TryWrite fails on a full queue instead of waiting or evicting; the drop is counted.
            FullMode = BoundedChannelFullMode.Wait,
            // The consumer thread must never run a subscriber's continuation.
            AllowSynchronousContinuations = false,
        });
    }

    /// <summary>The record key this subscriber wants, or null for every event.</summary>
    public string? ClientId { get; }

    public ChannelReader<StreamItem> Reader => _queue.Reader;

    /// <summary>
    /// Completes once the subscription is in place: true when the stream's consumer is at the end of
    /// every partition (every event written from now on is delivered), false when Kafka is not
    /// reachable yet (events flow once it is).
    /// </summary>
    public Task<bool> Ready => _ready.Task;

    /// <summary>Events dropped for this subscriber since it connected.</summary>
    public long Dropped => Volatile.Read(ref _dropped);

    /// <summary>Queues a frame without waiting; false when the queue is full and the frame was dropped.</summary>
    public bool TryEnqueue(byte[] frame)
    {
        var carried = Volatile.Read(ref _undeclaredDrops) == 0 ? 0 : Interlocked.Exchange(ref _undeclaredDrops, 0);
        if (_queue.Writer.TryWrite(new StreamItem(frame, carried)))
        {
            return true;
        }

        Interlocked.Add(ref _undeclaredDrops, carried + 1);
        Interlocked.Increment(ref _dropped);
        return false;
    }

    /// <summary>Takes the drops not yet handed over with a frame (the writer calls it when the queue is empty).</summary>
    public long TakeUndeclaredDrops() => Volatile.Read(ref _undeclaredDrops) == 0 ? 0 : Interlocked.Exchange(ref _undeclaredDrops, 0);

    internal void SetReady(bool live) => _ready.TrySetResult(live);
}
