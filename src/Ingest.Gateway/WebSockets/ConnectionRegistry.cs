namespace Ingest.Gateway.WebSockets;

/// <summary>Counts open connections against the limit, and knows when the gateway is draining.</summary>
internal sealed class ConnectionRegistry
{
    private readonly int _limit;
    private int _active;
    private volatile bool _draining;

    public ConnectionRegistry(Microsoft.Extensions.Options.IOptions<Hosting.IngestOptions> options, IHostApplicationLifetime lifetime)
    {
        _limit = options.Value.WebSocket.MaxConnections;
        lifetime.ApplicationStopping.Register(() => _draining = true);
    }

    public int Active => Volatile.Read(ref _active);

    /// <summary>True once shutdown has begun: no new connections, <c>/readyz</c> is 503.</summary>
    public bool IsDraining => _draining;

    /// <summary>Takes a connection slot; false when the limit is reached.</summary>
    public bool TryAdd()
    {
        if (Interlocked.Increment(ref _active) <= _limit)
        {
            return true;
        }

        Interlocked.Decrement(ref _active);
        return false;
    }

    public void Remove() => Interlocked.Decrement(ref _active);
}
