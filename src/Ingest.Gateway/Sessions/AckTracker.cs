namespace Ingest.Gateway.Sessions;

/// <summary>
/// The numbering and resolution state of one connection's data messages, for cumulative acks.
/// Messages are registered in arrival order (1, 2, 3, ...) and resolve in any order (Kafka
/// partitions complete independently; a rejected message by its error frame). <see cref="ResolvedUpTo"/>
/// is the highest N such that every message numbered N or less is resolved. Each message also
/// keeps the time it was read until the ack that covers it went out (<see cref="Acknowledged"/>),
/// for the send-to-ack histogram. Thread-safe.
/// </summary>
internal sealed class AckTracker
{
    private readonly Lock _lock = new();
    private bool[] _pending = new bool[16]; // not yet resolved, a ring indexed by sequence & (length - 1)
    private long[]? _receivedAt; // when each message was read, the same ring; made at the first message
    private long _lowestUnacked = 1; // slots from here on are kept: their ack has not gone out
    private long _lowestUnresolved = 1;
    private long _next = 1;
    private TaskCompletionSource? _waiter;
    private long _waitingFor;

    /// <summary>Highest N with every message numbered N or less resolved (0 when none).</summary>
    public long ResolvedUpTo
    {
        get
        {
            lock (_lock)
            {
                return _lowestUnresolved - 1;
            }
        }
    }

    /// <summary>Number of the last registered message (0 when none).</summary>
    public long LastRegistered
    {
        get
        {
            lock (_lock)
            {
                return _next - 1;
            }
        }
    }

    /// <summary>Numbers the next data message; <paramref name="receivedAt"/> is when it was read (a <see cref="TimeProvider"/> timestamp).</summary>
    public long Register(long receivedAt = 0)
    {
        lock (_lock)
        {
            if (_next - _lowestUnacked == _pending.Length)
            {
                Grow();
            }

            var sequence = _next++;
            var slot = sequence & (_pending.Length - 1);
            _pending[slot] = true;
            (_receivedAt ??= new long[_pending.Length])[slot] = receivedAt;
            return sequence;
        }
    }

    /// <summary>
    /// For the writer, before an ack goes out: the times the messages from <paramref name="from"/> on
    /// were read, a ring indexed by <c>sequence &amp; (length - 1)</c>. The slots of the messages the
    /// ack covers stay as they are until <see cref="Acknowledged"/>, so they can be read without the lock.
    /// </summary>
    public long[] ReceivedTimes(out long from)
    {
        lock (_lock)
        {
            from = _lowestUnacked;
            return _receivedAt ?? [];
        }
    }

    /// <summary>The ack covering every message up to <paramref name="upTo"/> went out: their slots are free again.</summary>
    public void Acknowledged(long upTo)
    {
        lock (_lock)
        {
            if (upTo >= _lowestUnacked)
            {
                _lowestUnacked = Math.Min(upTo, _lowestUnresolved - 1) + 1;
            }
        }
    }

    /// <summary>Resolves a message (written to Kafka, or its error frame sent).</summary>
    public void Resolve(long sequence)
    {
        TaskCompletionSource? completed = null;
        lock (_lock)
        {
            var mask = _pending.Length - 1;
            if (sequence < _lowestUnresolved || sequence >= _next || !_pending[sequence & mask])
            {
                throw new InvalidOperationException($"Message {sequence} is not awaiting resolution.");
            }

            _pending[sequence & mask] = false;
            while (_lowestUnresolved < _next && !_pending[_lowestUnresolved & mask])
            {
                _lowestUnresolved++;
            }

            if (_waiter is not null && _lowestUnresolved > _waitingFor)
            {
                (completed, _waiter) = (_waiter, null);
            }
        }

        completed?.TrySetResult();
    }

    /// <summary>Completes once every message numbered <paramref name="upTo"/> or less is resolved. One waiter at a time.</summary>
    public Task WhenResolvedAsync(long upTo)
    {
        lock (_lock)
        {
            if (_lowestUnresolved > upTo)
            {
                return Task.CompletedTask;
            }

            if (_waiter is not null)
            {
                throw new InvalidOperationException("Only one caller may wait for resolution.");
            }

            _waitingFor = upTo;
            _waiter = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            return _waiter.Task;
        }
    }

    private void Grow()
    {
        var larger = new bool[_pending.Length * 2];
        var times = new long[larger.Length];
        for (var sequence = _lowestUnacked; sequence < _next; sequence++)
        {
            larger[sequence & (larger.Length - 1)] = _pending[sequence & (_pending.Length - 1)];
            times[sequence & (larger.Length - 1)] = _receivedAt![sequence & (_pending.Length - 1)];
        }

        _pending = larger;
        _receivedAt = times; // the old ring stays as it was for a writer still reading it
    }
}
