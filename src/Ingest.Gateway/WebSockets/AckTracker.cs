namespace Ingest.Gateway.WebSockets;

/// <summary>
/// The numbering and resolution state of one connection's data messages, for cumulative acks.
/// Messages are registered in arrival order (1, 2, 3, ...) and resolved in any order (Kafka
/// partitions complete independently); <see cref="ResolvedUpTo"/> is the highest N such that every
/// message numbered N or less is resolved. Messages whose delivery failed wait in a queue until
/// their <c>error</c> frame is sent, and only then count as resolved. Thread-safe.
/// </summary>
internal sealed class AckTracker
{
    private readonly Lock _lock = new();
    private readonly Queue<(long Sequence, string Detail)> _failures = new();
    private bool[] _resolved = new bool[16]; // ring indexed by sequence & (length - 1)
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

    /// <summary>Numbers the next data message.</summary>
    public long Register()
    {
        lock (_lock)
        {
            if (_next - _lowestUnresolved == _resolved.Length)
            {
                Grow();
            }

            var sequence = _next++;
            _resolved[sequence & (_resolved.Length - 1)] = false;
            return sequence;
        }
    }

    /// <summary>Marks a message resolved: written to Kafka, or its error frame sent.</summary>
    public void Resolve(long sequence)
    {
        TaskCompletionSource? completed = null;
        lock (_lock)
        {
            if (sequence < _lowestUnresolved || sequence >= _next)
            {
                throw new InvalidOperationException($"Message {sequence} is not awaiting resolution.");
            }

            var mask = _resolved.Length - 1;
            _resolved[sequence & mask] = true;
            while (_lowestUnresolved < _next && _resolved[_lowestUnresolved & mask])
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

    /// <summary>Queues an error frame for a message Kafka did not take; it resolves once sent.</summary>
    public void Fail(long sequence, string detail)
    {
        lock (_lock)
        {
            _failures.Enqueue((sequence, detail));
        }
    }

    /// <summary>Takes the next failed message whose error frame is due.</summary>
    public bool TryTakeFailure(out long sequence, out string detail)
    {
        lock (_lock)
        {
            if (_failures.TryDequeue(out var failure))
            {
                (sequence, detail) = failure;
                return true;
            }
        }

        (sequence, detail) = (0, "");
        return false;
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
        var larger = new bool[_resolved.Length * 2];
        for (var sequence = _lowestUnresolved; sequence < _next; sequence++)
        {
            larger[sequence & (larger.Length - 1)] = _resolved[sequence & (_resolved.Length - 1)];
        }

        _resolved = larger;
    }
}
