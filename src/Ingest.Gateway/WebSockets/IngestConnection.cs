using System.Net.WebSockets;
using System.Text;
using System.Threading.Channels;
using Confluent.Kafka;
using Ingest.Gateway.Diagnostics;
using Ingest.Gateway.Pipeline;
using Ingest.Gateway.Validation;
using Ingest.Kafka;

namespace Ingest.Gateway.WebSockets;

/// <summary>
/// One client's WebSocket: reads messages, validates them, queues their events for Kafka, and
/// answers with error frames and cumulative acks, per the wire contract.
/// </summary>
/// <remarks>
/// Two loops run per connection: the receive loop (reassemble, validate, queue; it waits while the
/// channel is full, which is the backpressure) and the ack loop (woken by delivery reports; sends
/// delivery errors, then one ack for everything resolved). Sends are serialised by a lock, as
/// <see cref="WebSocket"/> allows one send at a time. Closing (client close, oversize message,
/// shutdown) stops reading at a message boundary, waits for what was read to resolve, sends a final
/// ack and then the close frame.
/// </remarks>
internal sealed partial class IngestConnection : IDeliveryTarget, IDisposable
{
    private const int InitialBufferSize = 4 * 1024;
    private static readonly TimeSpan CloseHandshakeTimeout = TimeSpan.FromSeconds(5);

    private readonly WebSocket _socket;
    private readonly ConnectionServices _services;
    private readonly string _connectionId;
    private readonly Header _connectionHeader;
    private readonly string _topic;
    private readonly string? _deadLetterTopic;
    private readonly TimeSpan _drainTimeout;
    private readonly AckTracker _tracker = new();
    private readonly EventParser _parser = new();
    private readonly MessageBuffer _buffer;
    private readonly SemaphoreSlim _sendLock = new(1, 1);
    private readonly Channel<bool> _ackSignal = Channel.CreateBounded<bool>(new BoundedChannelOptions(1)
    {
        FullMode = BoundedChannelFullMode.DropWrite,
        SingleReader = true,
    });
    private readonly byte[] _ackFrame = new byte[48];
    private readonly byte[] _probe = new byte[1];
    private readonly Lock _gate = new();
    private readonly TaskCompletionSource _readingStopped = new(TaskCreationOptions.RunContinuationsAsynchronously);

    // Guarded by _gate.
    private bool _midMessage;
    private bool _stopRequested;
    private bool _stopped;

    // Guarded by _sendLock.
    private bool _closeSent;
    private bool _sendFailed;
    private long _lastAcked;

    private int _closing;
    private Task _closeTask = Task.CompletedTask;
    private CancellationTokenSource? _abortTimer;

    // Used by the receive loop only.
    private Headers? _sharedHeaders;
    private long _sharedHeadersMs;

    public IngestConnection(WebSocket socket, string connectionId, ConnectionServices services)
    {
        _socket = socket;
        _services = services;
        _connectionId = connectionId;
        _connectionHeader = new Header(IngestHeaders.Connection, Encoding.UTF8.GetBytes(connectionId));
        _topic = services.Options.Kafka.Topic;
        _deadLetterTopic = string.IsNullOrEmpty(services.Options.Kafka.DeadLetterTopic) ? null : services.Options.Kafka.DeadLetterTopic;
        _drainTimeout = TimeSpan.FromMilliseconds(services.Options.Shutdown.TimeoutMs);
        _buffer = new MessageBuffer(InitialBufferSize, services.Options.WebSocket.MaxMessageBytes);
    }

    /// <summary>Serves the connection until it closes; <paramref name="stopping"/> starts a drain.</summary>
    public async Task RunAsync(CancellationToken stopping)
    {
        var ackLoop = AckLoopAsync();
        var registration = stopping.UnsafeRegister(static state => ((IngestConnection)state!).BeginDrain(), this);
        try
        {
            await ReceiveLoopAsync();
        }
        catch (Exception e) when (e is WebSocketException or IOException or OperationCanceledException or ObjectDisposedException or ChannelClosedException)
        {
            // The client vanished or the close handshake timed out: what was read still goes to
            // Kafka; acks for it can no longer be delivered, so the client resends (at-least-once).
            Log.ConnectionLost(_services.Logger, _connectionId, e.Message);
        }
        finally
        {
            await registration.DisposeAsync();
            StopReading();
            await _closeTask.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            _ackSignal.Writer.TryComplete();
            await ackLoop.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }
    }

    /// <summary>Frees the buffer and timers; call after <see cref="RunAsync"/> has returned.</summary>
    public void Dispose()
    {
        _abortTimer?.Dispose();
        _buffer.Dispose();
        _sendLock.Dispose();
    }

    private async Task ReceiveLoopAsync()
    {
        var messageType = WebSocketMessageType.Text;
        var atBoundary = true;
        var streaming = false;
        while (true)
        {
            ValueWebSocketReceiveResult result;
            try
            {
                // Between messages, a client that paused is waited for with a zero-byte receive, so
                // that an idle connection holds no receive buffer (frames are only parsed once data
                // is there). A client that streams (its next message was already there when asked
                // for) is read straight into the buffer it keeps: one receive per message, not two.
                var memory = atBoundary && !streaming ? Memory<byte>.Empty : _buffer.GetReceiveMemory();
                var receive = _socket.ReceiveAsync(memory, CancellationToken.None);
                if (atBoundary)
                {
                    streaming = receive.IsCompleted;
                    atBoundary = false;
                }

                result = await receive;
            }
            catch (WebSocketException e) when (e.WebSocketErrorCode == WebSocketError.Faulted && !IsStopped())
            {
                // The WebSocket layer found invalid UTF-8 in a text message and has already closed
                // the connection with 1007 (RFC 6455 section 8.1). Keep what was received.
                _buffer.RecoverUnreportedBytes();
                if (_buffer.Length > 0)
                {
                    await OnInvalidUtf8Async();
                    await AwaitClientCloseAsync();
                    return;
                }

                throw;
            }

            if (result.MessageType == WebSocketMessageType.Close)
            {
                await OnClientCloseAsync();
                return;
            }

            if (!StartOrContinueMessage())
            {
                // Reading has stopped (closing): data that arrives now is not processed; it is not
                // acked, so the client sends it again after reconnecting.
                _buffer.Reset();
                continue;
            }

            if (_buffer.Length == 0)
            {
                messageType = result.MessageType;
            }

            _buffer.Advance(result.Count);
            if (!result.EndOfMessage)
            {
                if (!_buffer.IsFull)
                {
                    continue;
                }

                // At the limit: the message is acceptable only if nothing follows.
                var probe = await _socket.ReceiveAsync(_probe.AsMemory(), CancellationToken.None);
                if (probe.MessageType == WebSocketMessageType.Close)
                {
                    await OnClientCloseAsync();
                    return;
                }

                if (probe.Count > 0 || !probe.EndOfMessage)
                {
                    await OnMessageTooLargeAsync();
                    _buffer.Reset();
                    continue;
                }
            }

            await ProcessMessageAsync(messageType);
            _buffer.Reset(keepBuffer: streaming);
            EndMessage();
            atBoundary = true;
        }
    }

    private async Task ProcessMessageAsync(WebSocketMessageType messageType)
    {
        var sequence = _tracker.Register();
        _services.Metrics.MessageReceived(_buffer.Length);
        if (messageType == WebSocketMessageType.Binary)
        {
            await RejectAsync(sequence, RejectReason.BinaryNotSupported, "binary messages are not supported: send each event as JSON text");
            return;
        }

        var reason = _parser.Parse(_buffer.Span);
        if (reason != RejectReason.None)
        {
            await RejectAsync(sequence, reason, _parser.ErrorMessage);
            return;
        }

        var events = _parser.Events;
        var records = new OutgoingRecord[events.Count];
        var message = _buffer.Span;
        for (var i = 0; i < records.Length; i++)
        {
            var slice = events[i];
            records[i] = new OutgoingRecord(slice.Key, message.Slice(slice.Start, slice.Length).ToArray());
        }

        _services.Metrics.EventsReceived(records.Length);
        await _services.Channel.WriteAsync(
            new IngestMessage(this, sequence, _topic, records, CreateHeaders(), isDeadLetter: false),
            CancellationToken.None);
    }

    /// <summary>Sends the error frame, then dead-letters the message; it resolves when that is written.</summary>
    private async Task RejectAsync(long sequence, RejectReason reason, string detail)
    {
        _services.Metrics.MessageRejected();
        await SendAsync(ServerFrames.Error(sequence, reason.ToCode(), detail));
        if (_deadLetterTopic is null)
        {
            _tracker.Resolve(sequence);
            SignalAck();
            return;
        }

        await _services.Channel.WriteAsync(CreateDeadLetter(this, sequence, reason, detail), CancellationToken.None);
    }

    private IngestMessage CreateDeadLetter(IDeliveryTarget target, long sequence, RejectReason reason, string detail)
    {
        var headers = CreateHeaders(shared: false);
        headers.Add(IngestHeaders.Error, Encoding.UTF8.GetBytes(reason.ToCode()));
        headers.Add(IngestHeaders.ErrorDetail, Encoding.UTF8.GetBytes($"message {sequence}: {detail}"));
        return new IngestMessage(target, sequence, _deadLetterTopic!, [new OutgoingRecord(null, _buffer.Span.ToArray())], headers, isDeadLetter: true);
    }

    /// <summary>
    /// The three ingest headers. Records produced within the same millisecond share one
    /// <see cref="Headers"/> instance: nothing changes headers once created, and the producer copies
    /// them into librdkafka. Dead letters add to theirs, so they always get a fresh one.
    /// </summary>
    private Headers CreateHeaders(bool shared = true)
    {
        var (now, receivedAt) = _services.ReceivedAtHeader();
        if (shared && _sharedHeaders is not null && _sharedHeadersMs == now)
        {
            return _sharedHeaders;
        }

        var headers = new Headers { receivedAt, _connectionHeader, _services.GatewayHeader };
        if (shared)
        {
            _sharedHeaders = headers;
            _sharedHeadersMs = now;
        }

        return headers;
    }

    private async Task OnMessageTooLargeAsync()
    {
        // Numbered like every data message, but never acked: the close code is its answer.
        var sequence = _tracker.LastRegistered + 1;
        var limit = _buffer.MaxSize;
        Log.MessageTooLarge(_services.Logger, _connectionId, sequence, limit);
        _services.Metrics.MessageReceived(_buffer.Length);
        _services.Metrics.MessageRejected();
        StopReading();
        if (_deadLetterTopic is not null)
        {
            await _services.Channel.WriteAsync(
                CreateDeadLetter(_services.DeadLetters, sequence, RejectReason.MessageTooLarge, $"the message exceeds the {limit}-byte limit; its first {limit} bytes are kept"),
                CancellationToken.None);
        }

        await CloseOnceAsync(WebSocketCloseStatus.MessageTooBig, $"message exceeds {limit} bytes", sequence - 1);
    }

    private async Task OnInvalidUtf8Async()
    {
        var sequence = _tracker.LastRegistered + 1;
        Log.InvalidUtf8(_services.Logger, _connectionId, sequence);
        _services.Metrics.MessageReceived(_buffer.Length);
        _services.Metrics.MessageRejected();
        StopReading();
        if (_deadLetterTopic is not null)
        {
            await _services.Channel.WriteAsync(
                CreateDeadLetter(_services.DeadLetters, sequence, RejectReason.InvalidUtf8, "the text message is not valid UTF-8 (RFC 6455 section 8.1); the connection was closed with 1007"),
                CancellationToken.None);
        }
    }

    private async Task OnClientCloseAsync()
    {
        StopReading();
        await CloseOnceAsync(WebSocketCloseStatus.NormalClosure, "", _tracker.LastRegistered);
    }

    private void BeginDrain()
    {
        if (Interlocked.Exchange(ref _closing, 1) == 0)
        {
            _closeTask = DrainAsync();
        }
    }

    /// <summary>Shutdown: draining frame, stop reading at a message boundary, final ack, close 1001.</summary>
    private async Task DrainAsync()
    {
        await Task.Yield();
        var window = _services.Options.Shutdown.ReconnectWindowMs;
        await SendAsync(ServerFrames.Draining(Random.Shared.Next(0, window + 1)));
        lock (_gate)
        {
            _stopRequested = true;
            if (!_midMessage)
            {
                _stopped = true;
                _readingStopped.TrySetResult();
            }
        }

        await WaitBoundedAsync(_readingStopped.Task);
        await CloseAfterFinalAckAsync(WebSocketCloseStatus.EndpointUnavailable, "server shutting down", _tracker.LastRegistered);
    }

    private Task CloseOnceAsync(WebSocketCloseStatus status, string description, long ackUpTo)
    {
        if (Interlocked.Exchange(ref _closing, 1) == 0)
        {
            _closeTask = CloseAfterFinalAckAsync(status, description, ackUpTo);
        }

        return _closeTask;
    }

    /// <summary>Waits until messages up to <paramref name="ackUpTo"/> are resolved, sends the final ack, then the close frame.</summary>
    private async Task CloseAfterFinalAckAsync(WebSocketCloseStatus status, string description, long ackUpTo)
    {
        if (!await WaitBoundedAsync(_tracker.WhenResolvedAsync(ackUpTo)))
        {
            Log.DrainTimedOut(_services.Logger, _connectionId, _tracker.ResolvedUpTo, ackUpTo);
        }

        await FlushAcksAsync(final: true);
        await _sendLock.WaitAsync();
        try
        {
            if (!_closeSent && !_sendFailed)
            {
                _closeSent = true;
                await _socket.CloseOutputAsync(status, description, CancellationToken.None);
            }
        }
        catch (Exception e) when (e is WebSocketException or IOException or ObjectDisposedException or InvalidOperationException)
        {
            _sendFailed = true;
        }
        finally
        {
            _sendLock.Release();
        }

        ArmAbortTimer();
    }

    /// <summary>The client should answer our close frame with its own; if it does not, drop the connection.</summary>
    private void ArmAbortTimer()
    {
        _abortTimer ??= new CancellationTokenSource(CloseHandshakeTimeout, _services.TimeProvider);
        _abortTimer.Token.UnsafeRegister(static state => ((WebSocket)state!).Abort(), _socket);
    }

    /// <summary>
    /// After the WebSocket layer closed the connection on its own (1007), keeps the TCP connection
    /// until the client answers with its close frame (or the handshake times out): closing the
    /// socket at once could reset the connection before the client has read the close frame.
    /// </summary>
    private async Task AwaitClientCloseAsync()
    {
        ArmAbortTimer();
        try
        {
            while ((await _socket.ReceiveAsync(_probe.AsMemory(), CancellationToken.None)).MessageType != WebSocketMessageType.Close)
            {
            }
        }
        catch (Exception e) when (e is WebSocketException or IOException or OperationCanceledException or ObjectDisposedException)
        {
            // Aborted by the timer, or the client went away: either way the connection is over.
        }
    }

    private async Task AckLoopAsync()
    {
        var reader = _ackSignal.Reader;
        while (await reader.WaitToReadAsync())
        {
            reader.TryRead(out _);
            await FlushAcksAsync();
        }
    }

    /// <summary>
    /// Sends pending delivery errors, then one ack for everything resolved: when anything new was
    /// resolved, or always for the <paramref name="final"/> ack that precedes a close frame.
    /// </summary>
    private async Task FlushAcksAsync(bool final = false)
    {
        await _sendLock.WaitAsync();
        try
        {
            while (_tracker.TryTakeFailure(out var sequence, out var detail))
            {
                await SendLockedAsync(ServerFrames.Error(sequence, RejectReason.DeliveryFailed.ToCode(), detail));
                _tracker.Resolve(sequence);
            }

            var upTo = _tracker.ResolvedUpTo;
            if (upTo > _lastAcked || final)
            {
                var length = ServerFrames.WriteAck(_ackFrame, upTo);
                await SendLockedAsync(_ackFrame.AsMemory(0, length));
                _lastAcked = upTo;
                _services.Metrics.AckSent();
            }
        }
        finally
        {
            _sendLock.Release();
        }
    }

    private async Task SendAsync(byte[] frame)
    {
        await _sendLock.WaitAsync();
        try
        {
            await SendLockedAsync(frame);
        }
        finally
        {
            _sendLock.Release();
        }
    }

    /// <summary>
    /// Sends one text frame unless the close frame went out or an earlier send failed (the client
    /// is gone: nothing more can reach it). The caller holds <see cref="_sendLock"/>.
    /// </summary>
    private async Task SendLockedAsync(ReadOnlyMemory<byte> frame)
    {
        if (_closeSent || _sendFailed)
        {
            return;
        }

        try
        {
            await _socket.SendAsync(frame, WebSocketMessageType.Text, true, CancellationToken.None);
        }
        catch (Exception e) when (e is WebSocketException or IOException or ObjectDisposedException or InvalidOperationException)
        {
            _sendFailed = true;
        }
    }

    private void SignalAck() => _ackSignal.Writer.TryWrite(true);

    /// <summary>Called for each received data chunk; false when reading has stopped.</summary>
    private bool StartOrContinueMessage()
    {
        lock (_gate)
        {
            if (_stopped)
            {
                return false;
            }

            _midMessage = true;
            return true;
        }
    }

    private void EndMessage()
    {
        lock (_gate)
        {
            _midMessage = false;
            if (_stopRequested)
            {
                _stopped = true;
                _readingStopped.TrySetResult();
            }
        }
    }

    private void StopReading()
    {
        lock (_gate)
        {
            _stopped = true;
            _midMessage = false;
            _readingStopped.TrySetResult();
        }
    }

    private bool IsStopped()
    {
        lock (_gate)
        {
            return _stopped;
        }
    }

    private async Task<bool> WaitBoundedAsync(Task task)
    {
        try
        {
            await task.WaitAsync(_drainTimeout, _services.TimeProvider);
            return true;
        }
        catch (TimeoutException)
        {
            return false;
        }
    }

    void IDeliveryTarget.OnDelivered(IngestMessage message)
    {
        if (message.IsDeadLetter)
        {
            _services.Metrics.DeadLetterWritten(failed: message.FirstError is not null);
        }
        else
        {
            _services.Metrics.EventsDelivered(message.Records.Length);
        }

        _tracker.Resolve(message.Sequence);
        SignalAck();
    }

    void IDeliveryTarget.OnDeliveryFailed(IngestMessage message, Error error)
    {
        _services.Metrics.DeliveryFailed();
        _tracker.Fail(message.Sequence, $"Kafka did not take the message within the delivery timeout ({error.Code}: {error.Reason}); it may be sent again");
        SignalAck();
    }

    private static partial class Log
    {
        [LoggerMessage(EventIds.ConnectionFailed, LogLevel.Debug, "Connection {ConnectionId} lost: {Reason}")]
        public static partial void ConnectionLost(ILogger logger, string connectionId, string reason);

        [LoggerMessage(EventIds.MessageTooLarge, LogLevel.Information, "Connection {ConnectionId}: message {Sequence} exceeds {Limit} bytes; closing with 1009")]
        public static partial void MessageTooLarge(ILogger logger, string connectionId, long sequence, int limit);

        [LoggerMessage(EventIds.InvalidUtf8, LogLevel.Information, "Connection {ConnectionId}: message {Sequence} is not valid UTF-8; closed with 1007")]
        public static partial void InvalidUtf8(ILogger logger, string connectionId, long sequence);

        [LoggerMessage(EventIds.DrainTimedOut, LogLevel.Warning, "Connection {ConnectionId}: closing before every message was resolved (resolved up to {ResolvedUpTo} of {Expected})")]
        public static partial void DrainTimedOut(ILogger logger, string connectionId, long resolvedUpTo, long expected);
    }
}
