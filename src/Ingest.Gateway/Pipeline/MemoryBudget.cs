using Ingest.Gateway.Configuration;
using Microsoft.Extensions.Options;

namespace Ingest.Gateway.Pipeline;

/// <summary>
/// A budget of message bytes the gateway holds for its clients. A connection that cannot get
/// bytes waits, so it stops reading its socket (TCP pushes back on its client) until bytes are given
/// back; waiters are served in arrival order, so a large request cannot be starved by small ones.
/// </summary>
internal class MemoryBudget
{
    private readonly Lock _lock = new();
    private readonly LinkedList<Waiter> _waiters = [];
    private long _available;

    public MemoryBudget(long capacity)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        Capacity = capacity;
        _available = capacity;
    }

    public long Capacity { get; }

    /// <summary>Bytes held now.</summary>
    public long InUse => Capacity - Volatile.Read(ref _available);

    /// <summary>Connections waiting for bytes now.</summary>
    public int Waiting
    {
        get
        {
            lock (_lock)
            {
                return _waiters.Count;
            }
        }
    }

    /// <summary>Takes <paramref name="bytes"/> at once if nobody waits before and they are there.</summary>
    public bool TryReserve(long bytes)
    {
        ValidateRequest(bytes);
        if (bytes == 0)
        {
            return true;
        }

        lock (_lock)
        {
            if (_waiters.Count > 0 || _available < bytes)
            {
                return false;
            }

            _available -= bytes;
            return true;
        }
    }

    /// <summary>Takes <paramref name="bytes"/>, waiting (in arrival order) until they are given back by others.</summary>
    public ValueTask ReserveAsync(long bytes, CancellationToken cancellationToken)
    {
        if (TryReserve(bytes))
        {
            return ValueTask.CompletedTask;
        }

        return new ValueTask(WaitAsync(bytes, cancellationToken));
    }

    /// <summary>Gives back bytes taken before, and hands them to the waiters in order.</summary>
    public void Release(long bytes)
    {
        if (bytes == 0)
        {
            return;
        }

        ArgumentOutOfRangeException.ThrowIfNegative(bytes);
        List<Waiter>? granted = null;
        lock (_lock)
        {
            if (bytes > Capacity - _available)
            {
                // Checked before the bytes are counted, so that the budget does not grow past its capacity.
                throw new InvalidOperationException($"Released more than was reserved ({bytes - (Capacity - _available)} bytes too many).");
            }

            _available += bytes;

            while (_waiters.First is { } first && first.Value.Bytes <= _available)
            {
                _available -= first.Value.Bytes;
                _waiters.RemoveFirst();
                (granted ??= []).Add(first.Value);
            }
        }

        if (granted is not null)
        {
            foreach (var waiter in granted)
            {
                waiter.Completion.TrySetResult();
            }
        }
    }

    private async Task WaitAsync(long bytes, CancellationToken cancellationToken)
    {
        var waiter = new Waiter(bytes);
        LinkedListNode<Waiter> node;
        lock (_lock)
        {
            if (_waiters.Count == 0 && _available >= bytes)
            {
                _available -= bytes;
                return;
            }

            node = _waiters.AddLast(waiter);
        }

        await using var registration = cancellationToken.UnsafeRegister(static (state, token) => ((TaskCompletionSource)state!).TrySetCanceled(token), waiter.Completion);
        try
        {
            await waiter.Completion.Task.ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            var granted = false;
            lock (_lock)
            {
                if (node.List is not null)
                {
                    _waiters.Remove(node);
                }
                else
                {
                    granted = true; // granted and cancelled at once: give the bytes back
                }
            }

            if (granted)
            {
                Release(bytes);
            }

            throw;
        }
    }

    private void ValidateRequest(long bytes)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(bytes);
        if (bytes > Capacity)
        {
            throw new ArgumentOutOfRangeException(nameof(bytes), bytes, $"More than the whole budget ({Capacity} bytes).");
        }
    }

    private sealed class Waiter(long bytes)
    {
        public long Bytes { get; } = bytes;

        public TaskCompletionSource Completion { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}

/// <summary>
/// Bytes of messages being reassembled, beyond each connection's first buffer
/// (<c>Ingest:Memory:MaxReassemblyBytes</c>): taken as a message's buffer grows, given back when
/// the message is complete (or its connection closes).
/// </summary>
internal sealed class ReassemblyBudget(IOptions<IngestOptions> options) : MemoryBudget(options.Value.Memory.MaxReassemblyBytes);

/// <summary>
/// Bytes of complete messages on their way to Kafka (<c>Ingest:Memory:MaxQueuedBytes</c>): taken
/// before a message is queued, given back when Kafka resolves it.
/// </summary>
internal sealed class QueueBudget(IOptions<IngestOptions> options) : MemoryBudget(options.Value.Memory.MaxQueuedBytes);
