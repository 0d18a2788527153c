namespace Ingest.LoadTest.Engine;

/// <summary>
/// The unacked messages a client may have in flight: <see cref="AcquireAsync"/> takes a slot (waiting
/// while all are taken), acks give slots back. Cheaper than a <see cref="SemaphoreSlim"/> on the
/// sender's path: a taken slot costs one uncontended lock, and a waiter is only allocated when the
/// window is full (then one wake-up serves every slot an ack frees).
/// </summary>
internal sealed class SendWindow
{
    private readonly Lock _lock = new();
    private readonly int _size;
    private int _inFlight;
    private TaskCompletionSource? _slotFreed;

    public SendWindow(int size)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(size, 1);
        _size = size;
    }

    /// <summary>Slots taken.</summary>
    public int InFlight
    {
        get
        {
            lock (_lock)
            {
                return _inFlight;
            }
        }
    }

    /// <summary>Takes a slot, waiting until one is free.</summary>
    public ValueTask AcquireAsync(CancellationToken cancellationToken)
    {
        Task wait;
        lock (_lock)
        {
            if (_inFlight < _size)
            {
                _inFlight++;
                return ValueTask.CompletedTask;
            }

            _slotFreed ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            wait = _slotFreed.Task;
        }

        return WaitThenAcquireAsync(wait, cancellationToken);
    }

    /// <summary>Gives <paramref name="count"/> slots back and wakes whoever waits for one.</summary>
    public void Release(int count)
    {
        TaskCompletionSource? waiting;
        lock (_lock)
        {
            _inFlight = Math.Max(0, _inFlight - count);
            waiting = _slotFreed;
            _slotFreed = null;
        }

        waiting?.TrySetResult();
    }

    private async ValueTask WaitThenAcquireAsync(Task wait, CancellationToken cancellationToken)
    {
        await wait.WaitAsync(cancellationToken).ConfigureAwait(false);
        await AcquireAsync(cancellationToken).ConfigureAwait(false);
    }
}
