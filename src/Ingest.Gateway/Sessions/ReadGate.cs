namespace Ingest.Gateway.Sessions;

/// <summary>
/// Whether a connection still reads, as one state changed under a lock: reading stops at once
/// (a close), or at the next message boundary (a drain), never in the middle of a message that
/// the drain allows to finish.
/// </summary>
internal sealed class ReadGate
{
    private readonly Lock _lock = new();
    private readonly TaskCompletionSource _stopped = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private ReadState _state;

    private enum ReadState
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
    public Task Stopped => _stopped.Task;

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
            }

            return true;
        }
    }

    /// <summary>A message was read whole: a boundary, where a requested stop takes effect.</summary>
    public void EndMessage()
    {
        lock (_lock)
        {
            if (_state == ReadState.InMessage)
            {
                _state = ReadState.Idle;
                return;
            }

            if (_state != ReadState.StopAtBoundary)
            {
                return;
            }

            _state = ReadState.Stopped;
        }

        _stopped.TrySetResult();
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

            if (_state == ReadState.Idle)
            {
                _state = ReadState.Stopped;
            }
        }

        _stopped.TrySetResult();
    }

    /// <summary>Stops now, even in the middle of a message.</summary>
    public void Stop()
    {
        lock (_lock)
        {
            _state = ReadState.Stopped;
        }

        _stopped.TrySetResult();
    }
}
