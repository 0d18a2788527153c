using System.Threading.Channels;

namespace Ingest.Gateway.Streaming;

/// <summary>A frame waiting for one subscriber, and how many events were dropped just before it.</summary>
internal readonly record struct StreamItem(byte[] Frame, long DroppedBefore);

/// <summary>
/// One <c>/stream</c> client: its filter and its queue, bounded in frames and in bytes. The consumer
/// thread offers frames and never waits: when the queue is full (either way; one frame of any size
/// always fits an empty queue) the frame is dropped and counted, and the count is
/// handed to the client with the next frame that fits, or taken by the writer once the queue is
/// empty, so every drop is reported exactly once.
/// </summary>
internal sealed class StreamSubscriber
{
    private readonly Channel<StreamItem> _queue;
    private readonly TaskCompletionSource<bool> _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly long _maxBytes;
    private long _undeclaredDrops;
    private long _dropped;
    private long _queuedBytes;

    public StreamSubscriber(string? clientId, int capacity, long maxBytes = long.MaxValue)
    {
        ClientId = clientId;
        _maxBytes = maxBytes;
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

    /// <summary>Whether its telemetry frames carry the record's <c>traceparent</c> (<c>?trace=1</c>).</summary>
    public bool ShowTrace { get; init; }

    /// <summary>For the writer: completes when a frame may be there (<see cref="TryDequeue"/> takes it).</summary>
    public ValueTask<bool> WaitToReadAsync(CancellationToken cancellationToken) => _queue.Reader.WaitToReadAsync(cancellationToken);

    /// <summary>Bytes of frames waiting now.</summary>
    public long QueuedBytes => Volatile.Read(ref _queuedBytes);

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
        var queued = Volatile.Read(ref _queuedBytes);
        if (queued > 0 && queued + frame.Length > _maxBytes)
        {
            Interlocked.Increment(ref _undeclaredDrops);
            Interlocked.Increment(ref _dropped);
            return false;
        }

        var carried = Volatile.Read(ref _undeclaredDrops) == 0 ? 0 : Interlocked.Exchange(ref _undeclaredDrops, 0);
        Interlocked.Add(ref _queuedBytes, frame.Length);
        if (_queue.Writer.TryWrite(new StreamItem(frame, carried)))
        {
            return true;
        }

        Interlocked.Add(ref _queuedBytes, -frame.Length);
        Interlocked.Add(ref _undeclaredDrops, carried + 1);
        Interlocked.Increment(ref _dropped);
        return false;
    }

    /// <summary>For the writer: the next frame, if one is waiting.</summary>
    public bool TryDequeue(out StreamItem item)
    {
        if (!_queue.Reader.TryRead(out item))
        {
            return false;
        }

        Interlocked.Add(ref _queuedBytes, -item.Frame.Length);
        return true;
    }

    /// <summary>Takes the drops not yet handed over with a frame (the writer calls it when the queue is empty).</summary>
    public long TakeUndeclaredDrops() => Volatile.Read(ref _undeclaredDrops) == 0 ? 0 : Interlocked.Exchange(ref _undeclaredDrops, 0);

    internal void SetReady(bool live) => _ready.TrySetResult(live);
}
