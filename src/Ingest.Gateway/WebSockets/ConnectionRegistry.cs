using System.Collections.Concurrent;
using System.Net;
using Ingest.Gateway.Configuration;
using Ingest.Gateway.Lifecycle;
using Ingest.Gateway.Sessions;
using Microsoft.Extensions.Options;

namespace Ingest.Gateway.WebSockets;

/// <summary>Whether a handshake may take a connection slot.</summary>
internal enum Admit
{
    Yes,

    /// <summary>The gateway is at <c>Ingest:WebSocket:MaxConnections</c>.</summary>
    Full,

    /// <summary>The client's address is at <c>Ingest:Limits:MaxConnectionsPerAddress</c>.</summary>
    AddressFull,
}

/// <summary>
/// Counts open connections against the gateway's and each address's limit, knows the open
/// sessions (for the timeout sweep), and knows when the last one has closed.
/// </summary>
internal sealed class ConnectionRegistry(ConnectionLimits limits, IOptions<IngestOptions> options, ShutdownBudget shutdown)
{
    private readonly int _limit = limits.WebSockets;
    private readonly Lock _lock = new();
    private readonly Dictionary<IPAddress, int> _perAddress = [];
    private readonly ConcurrentDictionary<IngestSession, byte> _sessions = new();
    private int _active;
    private TaskCompletionSource? _empty;

    public int Active => Volatile.Read(ref _active);

    public int Limit => _limit;

    public int PerAddressLimit { get; } = options.Value.Limits.MaxConnectionsPerAddress;

    /// <summary>True once shutdown has begun: no new connections, <c>/readyz</c> is 503.</summary>
    public bool IsDraining => shutdown.HasBegun;

    /// <summary>The open sessions.</summary>
    public ICollection<IngestSession> Sessions => _sessions.Keys;

    /// <summary>Takes a connection slot for a client at <paramref name="address"/> (null: not known).</summary>
    public Admit TryAdd(IPAddress? address)
    {
        var key = Normalize(address);
        lock (_lock)
        {
            if (_active >= _limit)
            {
                return Admit.Full;
            }

            if (key is not null)
            {
                _perAddress.TryGetValue(key, out var count);
                if (count >= PerAddressLimit)
                {
                    return Admit.AddressFull;
                }

                _perAddress[key] = count + 1;
            }

            _active++;
            return Admit.Yes;
        }
    }

    public void Remove(IPAddress? address)
    {
        var key = Normalize(address);
        TaskCompletionSource? empty = null;
        lock (_lock)
        {
            if (key is not null && _perAddress.TryGetValue(key, out var count))
            {
                if (count <= 1)
                {
                    _perAddress.Remove(key);
                }
                else
                {
                    _perAddress[key] = count - 1;
                }
            }

            if (--_active == 0)
            {
                (empty, _empty) = (_empty, null);
            }
        }

        empty?.TrySetResult();
    }

    public void Track(IngestSession session) => _sessions.TryAdd(session, 0);

    public void Untrack(IngestSession session) => _sessions.TryRemove(session, out _);

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

    /// <summary>An IPv4 client seen through a dual-stack socket is the same client as over IPv4.</summary>
    private static IPAddress? Normalize(IPAddress? address) =>
        address is { IsIPv4MappedToIPv6: true } ? address.MapToIPv4() : address;
}
