using System.Diagnostics.Metrics;
using System.Net.WebSockets;
using Ingest.Gateway.Configuration;
using Ingest.Gateway.Diagnostics;
using Ingest.Gateway.Lifecycle;
using Ingest.Gateway.Limits;
using Ingest.Gateway.Pipeline;
using Ingest.Gateway.Sessions;
using Ingest.Gateway.WebSockets;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;

namespace Ingest.UnitTests.Fuzz;

/// <summary>What one connection did: the items it queued for Kafka (in order), whether anything escaped.</summary>
internal sealed record ConnectionResult(IReadOnlyList<PipelineItem> Items, long MessagesReceived, Exception? Escaped);

/// <summary>
/// The gateway's connection code as production runs it (<see cref="IngestConnection"/>: its
/// <see cref="MessageReader"/>, <see cref="IngestSession"/> and <see cref="FrameWriter"/>) on a
/// server WebSocket made by <see cref="WebSocket.CreateFromStream(Stream, WebSocketCreationOptions)"/>
/// over a <see cref="ScriptedStream"/>: no socket, no Kafka. The test plays Kafka: every item the
/// connection queues is taken and written at once. Time is fake and never advances, so no timeout
/// fires. One rig (one context, as the gateway shares one among its connections) serves many
/// connections, one after the other.
/// </summary>
internal sealed class ConnectionRig : IDisposable
{
    private readonly ServiceProvider _services;
    private readonly EventChannel _channel;
    private readonly ShutdownBudget _shutdown;
    private readonly EventRateLimiter _eventRate;
    private readonly SessionContext _context;
    private Task<bool>? _itemWaiting; // one wait for the channel at a time, kept across connections

    public ConnectionRig(int maxMessageBytes)
    {
        MaxMessageBytes = maxMessageBytes;
        var options = Options.Create(new IngestOptions());
        options.Value.WebSocket.MaxMessageBytes = maxMessageBytes;
        options.Value.Limits.EventsPerSecond = 100_000_000; // the rate limit only slows reading: out of the way
        options.Value.Limits.EventBurst = 100_000_000;
        options.Value.Limits.InvalidMessageBurst = 0; // closing after many rejections has its own tests
        _services = new ServiceCollection().AddMetrics().BuildServiceProvider();
        var time = new FakeTimeProvider(DateTimeOffset.FromUnixTimeMilliseconds(1_700_000_000_000));
        var metrics = new IngestMetrics(_services.GetRequiredService<IMeterFactory>());
        _channel = new EventChannel(options, metrics);
        _shutdown = new ShutdownBudget(options, time);
        _eventRate = new EventRateLimiter(options);
        _context = new SessionContext(options, _channel, metrics, time, _shutdown, _eventRate, new ReassemblyBudget(options), new QueueBudget(options), NullLoggerFactory.Instance);
    }

    public int MaxMessageBytes { get; }

    /// <summary>Serves one connection until it is over, writing what it queues for Kafka as it goes.</summary>
    /// <param name="stream">The client's side: what it sends, and where the server writes.</param>
    /// <param name="connectionId">The connection's id.</param>
    /// <param name="hung">Cancelled when the connection takes far too long: the case failed.</param>
    public async Task<ConnectionResult> RunAsync(Stream stream, string connectionId, CancellationToken hung)
    {
        using var socket = WebSocket.CreateFromStream(stream, new WebSocketCreationOptions { IsServer = true, KeepAliveInterval = TimeSpan.Zero });
        var session = new IngestSession(_context, connectionId);
        using var connection = new IngestConnection(socket, session, _context);
        var items = new List<PipelineItem>();
        Exception? escaped = null;
        using var stopping = new CancellationTokenSource();
        try
        {
            var running = connection.RunAsync(stopping.Token);
            var sent = session.Outbound.Completion;
            while (!running.IsCompleted)
            {
                Deliver(items);
                if (running.IsCompleted)
                {
                    break;
                }

                var allSent = sent.IsCompleted; // read once: it may turn true at any moment
                if (!stopping.IsCancellationRequested && allSent && socket.State is WebSocketState.Aborted or WebSocketState.Closed)
                {
                    // Nothing more to send and the layer is done: after a 1002 or 1007 the gateway
                    // holds the connection (on the clock, which is fake here) for a close the client
                    // never sends. The rig ends that wait as a shutdown would; the session has
                    // finished, so the drain a shutdown starts does nothing.
                    await stopping.CancelAsync();
                    continue;
                }

                // A close waits for what was read to be resolved: it needs this loop to play Kafka.
                _itemWaiting ??= _channel.Reader.WaitToReadAsync(CancellationToken.None).AsTask();
                await Task.WhenAny(running, _itemWaiting, allSent ? running : sent).WaitAsync(hung);
                if (_itemWaiting.IsCompleted)
                {
                    _itemWaiting = null;
                }
            }

            await running;
        }
        catch (OperationCanceledException) when (hung.IsCancellationRequested)
        {
            throw new TimeoutException(
                $"connection {connectionId} did not end: socket {socket.State}, reading {session.Reading.Snapshot().State}, stopping {stopping.IsCancellationRequested}, " +
                $"close sequence {(session.Completion.IsCompleted ? "done" : "waiting")}, outbound {(session.Outbound.Completion.IsCompleted ? "completed" : "open")}, " +
                $"{session.MessagesReceived} messages numbered, queued: {string.Join(", ", items.Select(i => $"#{i.Sequence} {i.Kind} {i.ErrorCode}"))}");
        }
        catch (Exception e)
        {
            escaped = e;
        }

        Deliver(items);
        return new ConnectionResult(items, session.MessagesReceived, escaped);
    }

    public void Dispose()
    {
        _shutdown.Dispose();
        _services.Dispose();
    }

    /// <summary>Kafka's part: every record queued is written at once.</summary>
    private void Deliver(List<PipelineItem> items)
    {
        while (_channel.Reader.TryRead(out var item))
        {
            items.Add(item);
            for (var i = 0; i < item.RecordCount; i++)
            {
                item.Complete(error: null);
            }
        }
    }
}
