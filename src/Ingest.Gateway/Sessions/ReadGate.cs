namespace Ingest.Gateway.Sessions;

/// <summary>
/// Whether a connection still reads, as one state changed under a lock: reading stops at once
/// (a close), or at the next message boundary (a drain), never in the middle of a message that
/// the drain allows to finish. It also knows since when a message has been arriving and since
/// when the connection has been idle, for the message and idle timeouts.
/// </summary>
internal sealed class ReadGate(TimeProvider time)
{
    private readonly Lock _lock = new();
    private TaskCompletionSource? _stopped; // made only when a wait needs it
    private CancellationTokenSource? _stoppedToken; // made only when a wait needs it
    private ReadState _state;
    private long _since = time.GetTimestamp(); // the current message's first chunk, or the last message's end
    private bool _whole; // the current message has arrived whole and waits for room (memory, rate, the channel)
    private bool _shut; // not even the client's close frame is read

    /// <summary>Where reading stands.</summary>
    public enum ReadState
    {
        /// <summary>Between messages.</summary>
        Idle,

        /// <summary>Inside a message.</summary>
        InMessage,

        /// <summary>Inside a message, and reading stops once it ends.</summary>
        StopAtBoundary,

        /// <summary>Nothing more is read; what arrives is dropped unacked.</summary>
        Stopped,
    }

    /// <summary>Completes once reading has stopped.</summary>
    public Task Stopped
    {
        get
        {
            lock (_lock)
            {
                return _state == ReadState.Stopped ? Task.CompletedTask : (_stopped ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).Task;
            }
        }
    }

    public bool IsStopped
    {
        get
        {
            lock (_lock)
            {
                return _state == ReadState.Stopped;
            }
        }
    }

    /// <summary>
    /// True once reading has stopped for good (<see cref="Shut"/>): the client's close frame is not
    /// waited for either.
    /// </summary>
    public bool IsShut
    {
        get
        {
            lock (_lock)
            {
                return _shut;
            }
        }
    }

    /// <summary>Cancelled once reading has stopped: ends waits (for memory, for acks) that no longer matter.</summary>
    public CancellationToken StoppedToken
    {
        get
        {
            lock (_lock)
            {
                if (_state == ReadState.Stopped)
                {
                    return new CancellationToken(canceled: true);
                }

                _stoppedToken ??= new CancellationTokenSource();
                return _stoppedToken.Token;
            }
        }
    }

    /// <summary>
    /// The state, how long it has lasted (the message's age, or the idle time), and whether the
    /// message being handled has arrived whole (then only the gateway's own backpressure holds it).
    /// </summary>
    public (ReadState State, TimeSpan For, bool Whole) Snapshot()
    {
        lock (_lock)
        {
            return (_state, time.GetElapsedTime(_since), _whole);
        }
    }

    /// <summary>The message being read has arrived whole; what remains is the gateway's to do.</summary>
    public void MessageWhole()
    {
        lock (_lock)
        {
            _whole = true;
        }
    }

    /// <summary>For each received chunk: true while reading goes on (the chunk belongs to a message).</summary>
    public bool TryRead()
    {
        lock (_lock)
        {
            if (_state == ReadState.Stopped)
            {
                return false;
            }

            if (_state == ReadState.Idle)
            {
                _state = ReadState.InMessage;
                _since = time.GetTimestamp();
                _whole = false;
            }

            return true;
        }
    }

    /// <summary>A message was read whole: a boundary, where a requested stop takes effect.</summary>
    public void EndMessage()
    {
        lock (_lock)
        {
            _since = time.GetTimestamp();
            if (_state == ReadState.InMessage)
            {
                _state = ReadState.Idle;
                return;
            }

            if (_state != ReadState.StopAtBoundary)
            {
                return;
            }
        }

        Stop();
    }

    /// <summary>Stops now between messages, or at the end of the message being read.</summary>
    public void StopAtBoundary()
    {
        lock (_lock)
        {
            if (_state == ReadState.InMessage)
            {
                _state = ReadState.StopAtBoundary;
                return;
            }
        }

        Stop();
    }

    /// <summary>
    /// Stops now, and reads nothing more at all, not even the client's answer to the close: for a
    /// client closed for abuse, whose flood would otherwise be read (and dropped) for the close
    /// handshake's time. Unread, its data waits in TCP's buffers, and TCP stops it.
    /// </summary>
    public void Shut()
    {
        lock (_lock)
        {
            _shut = true;
        }

        Stop();
    }

    /// <summary>Stops now, even in the middle of a message.</summary>
    public void Stop()
    {
        CancellationTokenSource? token;
        TaskCompletionSource? stopped;
        lock (_lock)
        {
            _state = ReadState.Stopped;
            token = _stoppedToken;
            stopped = _stopped;
        }

        stopped?.TrySetResult();
        token?.Cancel();
    }
}
