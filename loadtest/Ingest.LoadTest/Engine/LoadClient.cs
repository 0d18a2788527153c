using Ingest.Contracts;
using System.Buffers;
using System.Diagnostics;
using System.Net.WebSockets;

namespace Ingest.LoadTest.Engine;

/// <summary>
/// One realistic client of the gateway: a WebSocket connection that keeps every message until it is
/// acked, at most <see cref="LoadClientOptions.Window"/> unacked at a time; on a lost connection
/// (or a <c>draining</c> frame) it reconnects with backoff, honouring <c>reconnectAfterMs</c>, and
/// resends the unacked messages in order. Messages are numbered per connection as the gateway does.
/// </summary>
internal sealed class LoadClient : IAsyncDisposable
{
    private readonly Uri _uri;
    private readonly LoadClientOptions _options;
    private readonly LoadStats _stats;
    private readonly SendWindow _window;
    private readonly HttpMessageInvoker? _invoker; // connects from a chosen source address; null: the default
    private readonly SemaphoreSlim _sendLock = new(1, 1);
    private readonly Lock _lock = new();
    private readonly LinkedList<PendingMessage> _pending = new();
    private readonly CancellationTokenSource _stop = new();
    private readonly TaskCompletionSource _connected = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private TaskCompletionSource _drained = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private ClientWebSocket? _socket;
    private long _nextSeq;
    private int _drainingHintMs = -1;
    private volatile bool _disposing;
    private Task _connectionLoop = Task.CompletedTask;

    public LoadClient(Uri uri, LoadClientOptions options, LoadStats stats)
    {
        _uri = uri;
        _options = options;
        _stats = stats;
        _window = new SendWindow(options.Window);
        _invoker = options.SourceAddresses?.Next();
    }

    /// <summary>Messages sent and not yet resolved.</summary>
    public int PendingCount
    {
        get
        {
            lock (_lock)
            {
                return _pending.Count;
            }
        }
    }

    /// <summary>Connects (retrying with backoff until <paramref name="cancellationToken"/>) and starts receiving.</summary>
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        _connectionLoop = Task.Run(ConnectionLoopAsync, CancellationToken.None);
        await _connected.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Sends one message of <paramref name="events"/> events, waiting for a window slot first.
    /// <paramref name="startTimestamp"/> is where send-to-ack latency starts (the intended send time
    /// for paced load, so that a stalled gateway shows in the latency instead of hiding).
    /// </summary>
    public async ValueTask SendAsync(ReadOnlyMemory<byte> payload, int events, long eventKey, long startTimestamp, CancellationToken cancellationToken)
    {
        await _window.AcquireAsync(cancellationToken).ConfigureAwait(false);
        await _sendLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var message = new PendingMessage(payload, events, eventKey, startTimestamp == 0 ? Stopwatch.GetTimestamp() : startTimestamp);
            ClientWebSocket? socket;
            lock (_lock)
            {
                message.Seq = ++_nextSeq;
                _pending.AddLast(message);
                socket = _socket;
            }

            Interlocked.Add(ref _stats.EventsSent, events);
            Interlocked.Increment(ref _stats.MessagesSent);
            if (socket is not null)
            {
                await TrySendAsync(socket, payload).ConfigureAwait(false); // on failure the message is resent after the reconnect
            }
        }
        finally
        {
            _sendLock.Release();
        }
    }

    /// <summary>Completes once nothing is pending (every message acked or rejected).</summary>
    public Task WaitUntilDrainedAsync(CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            if (_pending.Count == 0)
            {
                return Task.CompletedTask;
            }

            if (_drained.Task.IsCompleted)
            {
                _drained = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            }

            return _drained.Task.WaitAsync(cancellationToken);
        }
    }

    public async ValueTask DisposeAsync()
    {
        // Close politely first (the gateway answers the close), then stop the loop.
        _disposing = true;
        ClientWebSocket? socket;
        lock (_lock)
        {
            socket = _socket;
        }

        if (socket is not null)
        {
            try
            {
                using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(2));
                await socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, "done", timeout.Token).ConfigureAwait(false);
            }
            catch (Exception e) when (IsDisconnect(e))
            {
                // Already gone.
            }
        }

        try
        {
            await _connectionLoop.WaitAsync(TimeSpan.FromSeconds(2)).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            // The gateway did not answer the close in time (19,000 clients closing at once can do
            // that): abort. A loop that still does not end is left to its cancelled token.
            await _stop.CancelAsync().ConfigureAwait(false);
            socket?.Abort();
            try
            {
                await _connectionLoop.WaitAsync(TimeSpan.FromSeconds(5)).ConfigureAwait(false);
            }
            catch (TimeoutException)
            {
            }
        }

        await _stop.CancelAsync().ConfigureAwait(false);

        socket?.Dispose();
        _stop.Dispose();
        _sendLock.Dispose();
    }

    private async Task ConnectionLoopAsync()
    {
        var attempt = 0;
        var token = _stop.Token;
        while (!token.IsCancellationRequested)
        {
            var socket = new ClientWebSocket();
            socket.Options.KeepAliveInterval = TimeSpan.Zero;
            var open = false;
            try
            {
                using (var timeout = CancellationTokenSource.CreateLinkedTokenSource(token))
                {
                    timeout.CancelAfter(_options.ConnectTimeout);
                    if (_invoker is null)
                    {
                        await socket.ConnectAsync(_uri, timeout.Token).ConfigureAwait(false);
                    }
                    else
                    {
                        await socket.ConnectAsync(_uri, _invoker, timeout.Token).ConfigureAwait(false);
                    }
                }

                open = true;
                Interlocked.Increment(ref _stats.ConnectionsOpen);

                if (attempt > 0 || _connected.Task.IsCompleted)
                {
                    Interlocked.Increment(ref _stats.Reconnects);
                }

                attempt = 0;
                await ResendPendingAsync(socket).ConfigureAwait(false);
                _connected.TrySetResult();
                await ReceiveLoopAsync(socket, token).ConfigureAwait(false);
            }
            // ObjectDisposedException: an aborted ClientWebSocket is disposed, and the receive loop's
            // next receive (or a resend) after an abort throws it.
            catch (Exception e) when (e is WebSocketException or IOException or OperationCanceledException or HttpRequestException or ObjectDisposedException)
            {
                if (token.IsCancellationRequested)
                {
                    break;
                }

                Interlocked.Increment(ref _stats.ConnectFailures);
            }
            finally
            {
                if (open)
                {
                    Interlocked.Decrement(ref _stats.ConnectionsOpen);
                }

                lock (_lock)
                {
                    if (_socket == socket)
                    {
                        _socket = null;
                    }
                }

                if (!token.IsCancellationRequested && !_disposing)
                {
                    socket.Abort();
                    socket.Dispose();
                }
            }

            if (token.IsCancellationRequested || _disposing)
            {
                break;
            }

            // Backoff: the gateway's draining hint when it gave one, else exponential with jitter.
            var hint = Interlocked.Exchange(ref _drainingHintMs, -1);
            var delay = hint >= 0
                ? hint
                : Math.Min(_options.MaxBackoff.TotalMilliseconds, _options.InitialBackoff.TotalMilliseconds * Math.Pow(2, attempt)) * (0.5 + (Random.Shared.NextDouble() / 2));
            attempt++;
            try
            {
                await Task.Delay(TimeSpan.FromMilliseconds(delay), token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                break;
            }
        }
    }

    /// <summary>Renumbers the unacked messages for the new connection and sends them again, in order.</summary>
    private async Task ResendPendingAsync(ClientWebSocket socket)
    {
        await _sendLock.WaitAsync(_stop.Token).ConfigureAwait(false);
        try
        {
            PendingMessage[] resend;
            lock (_lock)
            {
                _nextSeq = 0;
                foreach (var message in _pending)
                {
                    message.Seq = ++_nextSeq;
                }

                resend = [.. _pending];
                _socket = socket;
            }

            foreach (var message in resend)
            {
                Interlocked.Add(ref _stats.EventsResent, message.Events);
                _options.OnResent?.Invoke(message.EventKey, message.Events);
                if (!await TrySendAsync(socket, message.Payload).ConfigureAwait(false))
                {
                    return;
                }
            }
        }
        finally
        {
            _sendLock.Release();
        }
    }

    private static async ValueTask<bool> TrySendAsync(ClientWebSocket socket, ReadOnlyMemory<byte> payload)
    {
        try
        {
            await socket.SendAsync(payload, WebSocketMessageType.Text, true, CancellationToken.None).ConfigureAwait(false);
            return true;
        }
        catch (Exception e) when (IsDisconnect(e))
        {
            return false; // the receive loop sees the failure and reconnects
        }
    }

    /// <summary>
    /// Whether <paramref name="e"/>, thrown by a send or close on a socket, only means that its
    /// connection is gone: the socket is being replaced, so it is a disconnect, not a failure of the
    /// run. That includes <see cref="OperationCanceledException"/>: a send still writing when the
    /// connection loop aborts the socket (after the gateway closed or dropped it) fails with one,
    /// wrapping the <see cref="IOException"/> of the closed stream, though no token was cancelled.
    /// Only for calls whose own token, if any, is meant to end them quietly too.
    /// </summary>
    private static bool IsDisconnect(Exception e) =>
        e is WebSocketException or IOException or OperationCanceledException or ObjectDisposedException or InvalidOperationException;

    private async Task ReceiveLoopAsync(ClientWebSocket socket, CancellationToken token)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(4096);
        try
        {
            while (true)
            {
                var length = 0;
                ValueWebSocketReceiveResult result;
                do
                {
                    if (length == buffer.Length)
                    {
                        var bigger = ArrayPool<byte>.Shared.Rent(buffer.Length * 2);
                        buffer.AsSpan(0, length).CopyTo(bigger);
                        ArrayPool<byte>.Shared.Return(buffer);
                        buffer = bigger;
                    }

                    result = await socket.ReceiveAsync(buffer.AsMemory(length), token).ConfigureAwait(false);
                    length += result.Count;
                }
                while (!result.EndOfMessage && result.MessageType != WebSocketMessageType.Close);

                if (result.MessageType == WebSocketMessageType.Close)
                {
                    if (socket.CloseStatus == WebSocketCloseStatus.EndpointUnavailable)
                    {
                        Interlocked.Increment(ref _stats.ShutdownCloses);
                    }

                    return;
                }

                Handle(ServerFrame.Parse(buffer.AsSpan(0, length)));
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private void Handle(ServerFrame frame)
    {
        switch (frame.Type)
        {
            case ServerFrameType.Ack:
                Resolve(frame.UpTo);
                break;
            case ServerFrameType.Error:
                Reject(frame.Seq, frame.Code);
                break;
            case ServerFrameType.Draining:
                Interlocked.Increment(ref _stats.DrainingFrames);
                Volatile.Write(ref _drainingHintMs, Math.Max(0, frame.ReconnectAfterMs));
                break;
            default:
                Interlocked.Increment(ref _stats.UnknownFrames);
                break;
        }
    }

    private void Resolve(long upTo)
    {
        var now = Stopwatch.GetTimestamp();
        var released = 0;
        lock (_lock)
        {
            while (_pending.First is { } node && node.Value.Seq <= upTo)
            {
                var message = node.Value;
                _pending.RemoveFirst();
                released++;
                if (message.Rejected)
                {
                    continue;
                }

                Interlocked.Add(ref _stats.EventsAcked, message.Events);
                Interlocked.Increment(ref _stats.MessagesAcked);
                _stats.AckLatency.RecordSince(message.StartTimestamp, now);
                _options.OnAcked?.Invoke(message.EventKey, message.Events);
            }

            if (_pending.Count == 0)
            {
                _drained.TrySetResult();
            }
        }

        if (released > 0)
        {
            _window.Release(released);
        }
    }

    private void Reject(long seq, string? code)
    {
        lock (_lock)
        {
            for (var node = _pending.First; node is not null; node = node.Next)
            {
                if (node.Value.Seq != seq)
                {
                    continue;
                }

                // Rejected whole, delivery_failed included: counted as errored, not resent (see the README).
                node.Value.Rejected = true;
                Interlocked.Add(ref _stats.EventsErrored, node.Value.Events);
                if (code == ErrorCodes.DeliveryFailed)
                {
                    Interlocked.Increment(ref _stats.DeliveryFailures);
                }

                _options.OnRejected?.Invoke(node.Value.EventKey, node.Value.Events, code);

                break;
            }
        }
    }

    private sealed class PendingMessage(ReadOnlyMemory<byte> payload, int events, long eventKey, long startTimestamp)
    {
        public ReadOnlyMemory<byte> Payload { get; } = payload;

        public int Events { get; } = events;

        public long EventKey { get; } = eventKey;

        public long StartTimestamp { get; } = startTimestamp;

        public long Seq { get; set; }

        public bool Rejected { get; set; }
    }
}
