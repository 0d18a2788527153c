using Ingest.Gateway.Configuration;
using Ingest.Gateway.Lifecycle;
using Microsoft.Extensions.Options;

namespace Ingest.Gateway.WebSockets;

/// <summary>Counts open connections against the limit, and knows when the last one has closed.</summary>
internal sealed class ConnectionRegistry(IOptions<IngestOptions> options, ShutdownBudget shutdown)
{
    private readonly int _limit = options.Value.WebSocket.MaxConnections;
    private readonly Lock _lock = new();
    private int _active;
    private TaskCompletionSource? _empty;

    public int Active => Volatile.Read(ref _active);

    /// <summary>True once shutdown has begun: no new connections, <c>/readyz</c> is 503.</summary>
    public bool IsDraining => shutdown.HasBegun;

    /// <summary>Takes a connection slot; false when the limit is reached.</summary>
    public bool TryAdd()
    {
        lock (_lock)
        {
            if (_active >= _limit)
            {
                return false;
            }

            _active++;
            return true;
        }
    }

    public void Remove()
    {
        TaskCompletionSource? empty = null;
        lock (_lock)
        {
            if (--_active == 0)
            {
                (empty, _empty) = (_empty, null);
            }
        }

        empty?.TrySetResult();
    }

    /// <summary>Completes when no connection is open.</summary>
    public Task WhenEmptyAsync()
    {
        lock (_lock)
        {
            if (_active == 0)
            {
                return Task.CompletedTask;
            }

            _empty ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            return _empty.Task;
        }
    }
}
