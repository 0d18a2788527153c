using System.Collections.Concurrent;
using System.Net;
using Ingest.Gateway.Configuration;
using Ingest.Gateway.Lifecycle;
using Ingest.Gateway.Limits;
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
/// Counts open connections against the gateway's and each address's limit, holds each address's
/// shared allowance of rejected messages (<see cref="AddressRejects"/>), knows the open sessions
/// (for the timeout sweep), and knows when the last one has closed.
/// </summary>
/// <remarks>
/// An address's entry lives while it has connections, and after its last one closes for as long
/// as its allowance of rejections is refilling (a client closed for abuse that reconnects finds
/// it spent), up to <see cref="MaxRemembered"/> such addresses; <see cref="Forget"/>, called by
/// the sweep once a second, drops those that have refilled.
/// </remarks>
internal sealed class ConnectionRegistry(ConnectionLimits limits, IOptions<IngestOptions> options, ShutdownBudget shutdown, TimeProvider time)
{
    /// <summary>Addresses without connections whose spent allowance is remembered (at most 300 bytes each: docs/operations.md).</summary>
    public const int MaxRemembered = 100_000;

    private readonly int _limit = limits.WebSockets;
    private readonly double _rejectsPerSecond = options.Value.Limits.InvalidMessagesPerSecondPerAddress;
    private readonly int _rejectBurst = options.Value.Limits.InvalidMessageBurstPerAddress;
    private readonly Lock _lock = new();
    private readonly Dictionary<IPAddress, AddressEntry> _perAddress = [];
    private int _remembered; // entries without connections
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

    /// <summary>Addresses remembered without connections (for tests and the operations budget).</summary>
    public int Remembered
    {
        get
        {
            lock (_lock)
            {
                return _remembered;
            }
        }
    }

    /// <summary>
    /// Takes a connection slot for a client at <paramref name="address"/> (null: not known); when
    /// admitted, <paramref name="rejects"/> is the address's shared allowance of rejected messages
    /// (null for an unknown address).
    /// </summary>
    public Admit TryAdd(IPAddress? address, out AddressRejects? rejects)
    {
        rejects = null;
        var key = Normalize(address);
        lock (_lock)
        {
            if (_active >= _limit)
            {
                return Admit.Full;
            }

            if (key is not null)
            {
                if (!_perAddress.TryGetValue(key, out var entry))
                {
                    entry = new AddressEntry(new AddressRejects(_rejectsPerSecond, _rejectBurst, time));
                    _perAddress.Add(key, entry);
                }
                else if (entry.Connections >= PerAddressLimit)
                {
                    return Admit.AddressFull;
                }
                else if (entry.Connections == 0)
                {
                    _remembered--;
                }

                entry.Connections++;
                rejects = entry.Rejects;
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
            if (key is not null && _perAddress.TryGetValue(key, out var entry) && --entry.Connections == 0)
            {
                if (_remembered < MaxRemembered && !entry.Rejects.IsFull(time.GetTimestamp()))
                {
                    _remembered++;
                }
                else
                {
                    _perAddress.Remove(key);
                }
            }

            if (--_active == 0)
            {
                (empty, _empty) = (_empty, null);
            }
        }

        empty?.TrySetResult();
    }

    /// <summary>Forgets the addresses without connections whose allowance of rejections has refilled.</summary>
    public void Forget()
    {
        lock (_lock)
        {
            if (_remembered == 0)
            {
                return;
            }

            var now = time.GetTimestamp();
            foreach (var (key, entry) in _perAddress)
            {
                if (entry.Connections == 0 && entry.Rejects.IsFull(now))
                {
                    _perAddress.Remove(key); // allowed while enumerating a Dictionary
                    _remembered--;
                }
            }
        }
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

    private sealed class AddressEntry(AddressRejects rejects)
    {
        public AddressRejects Rejects { get; } = rejects;

        public int Connections { get; set; }
    }
}
