using System.Threading.Tasks.Sources;

namespace Ingest.Gateway.Sessions;

/// <summary>
/// A session's outbound frames: any thread writes, one reader (the connection's writer) takes them
/// in order. What a <c>Channel</c> does for this, with the state of an idle connection kept small: a
/// channel holds about 700 bytes of cached reader and writer operations for each connection from
/// its start, this about a hundred (the queue's array comes with the first frame). The reader's
/// wait is this object itself, reset for each wait; its continuation never runs on the writer's
/// thread (which may be the Kafka producer's).
/// </summary>
internal sealed class OutboundQueue : IValueTaskSource<bool>
{
    private readonly Lock _lock = new();
    private ManualResetValueTaskSourceCore<bool> _wait = new() { RunContinuationsAsynchronously = true };
    private Queue<OutboundFrame>? _frames;
    private TaskCompletionSource? _completion; // made only when asked for before the queue is done
    private CancellationTokenRegistration _cancellation;
    private bool _waiting; // a wait is pending: the next write or the completion ends it
    private bool _completed; // no more writes
    private bool _done; // completed and read to the end

    /// <summary>Completes once the queue is completed and every frame has been read.</summary>
    public Task Completion
    {
        get
        {
            lock (_lock)
            {
                return _done ? Task.CompletedTask : (_completion ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).Task;
            }
        }
    }

    /// <summary>Queues <paramref name="frame"/>; false once the queue is completed.</summary>
    public bool TryWrite(in OutboundFrame frame)
    {
        lock (_lock)
        {
            if (_completed)
            {
                return false;
            }

            (_frames ??= new Queue<OutboundFrame>(4)).Enqueue(frame);
            if (!_waiting)
            {
                return true;
            }

            _waiting = false;
        }

        _wait.SetResult(true);
        return true;
    }

    /// <summary>No more frames: the reader takes what is queued, then its wait answers false.</summary>
    public bool TryComplete()
    {
        bool wake, more;
        TaskCompletionSource? completion;
        lock (_lock)
        {
            if (_completed)
            {
                return false;
            }

            _completed = true;
            more = _frames is { Count: > 0 };
            (wake, _waiting) = (_waiting, false);
            completion = more ? null : MarkDone();
        }

        completion?.TrySetResult();
        if (wake)
        {
            _wait.SetResult(more);
        }

        return true;
    }

    /// <summary>The reader: takes the next frame, if one is queued.</summary>
    public bool TryRead(out OutboundFrame frame)
    {
        TaskCompletionSource? completion;
        lock (_lock)
        {
            if (_frames is null || !_frames.TryDequeue(out frame))
            {
                frame = default;
                return false;
            }

            completion = _completed && _frames.Count == 0 ? MarkDone() : null;
        }

        completion?.TrySetResult();
        return true;
    }

    /// <summary>The reader: true once a frame is queued, false once the queue is completed and read to the end.</summary>
    public ValueTask<bool> WaitToReadAsync(CancellationToken cancellationToken = default)
    {
        lock (_lock)
        {
            if (_frames is { Count: > 0 })
            {
                return new ValueTask<bool>(true);
            }

            if (_completed)
            {
                return new ValueTask<bool>(false);
            }

            if (cancellationToken.IsCancellationRequested)
            {
                return ValueTask.FromCanceled<bool>(cancellationToken);
            }

            _wait.Reset();
            _waiting = true;

            // Under the lock, so that no write can end the wait (and its reader dispose the
            // registration) before the registration is stored. A token cancelled meanwhile runs
            // the callback here, on this thread, which holds the lock already.
            if (cancellationToken.CanBeCanceled)
            {
                _cancellation = cancellationToken.UnsafeRegister(static (state, token) => ((OutboundQueue)state!).CancelWait(token), this);
            }

            return new ValueTask<bool>(this, _wait.Version);
        }
    }

    bool IValueTaskSource<bool>.GetResult(short token)
    {
        _cancellation.Dispose();
        _cancellation = default;
        return _wait.GetResult(token);
    }

    ValueTaskSourceStatus IValueTaskSource<bool>.GetStatus(short token) => _wait.GetStatus(token);

    void IValueTaskSource<bool>.OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
        _wait.OnCompleted(continuation, state, token, flags);

    private void CancelWait(CancellationToken token)
    {
        lock (_lock)
        {
            if (!_waiting)
            {
                return;
            }

            _waiting = false;
        }

        _wait.SetException(new OperationCanceledException(token));
    }

    /// <summary>Under the lock: the queue is done; returns the completion to set once the lock is let go, if anyone asked for it.</summary>
    private TaskCompletionSource? MarkDone()
    {
        _done = true;
        return _completion;
    }
}
