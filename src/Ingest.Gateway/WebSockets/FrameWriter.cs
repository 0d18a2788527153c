using System.Buffers;
using System.Net.WebSockets;
using Ingest.Contracts;
using Ingest.Gateway.Sessions;

namespace Ingest.Gateway.WebSockets;

/// <summary>
/// The one owner of a connection's outbound frames: sends what its session queues, in order, as
/// SignalR's WebSocket transport does, so that no send lock or closed/failed flags are shared.
/// After the close frame, a client that does not answer with its own within
/// <see cref="CloseHandshakeTimeout"/> has its connection dropped. A frame the client does not take
/// within the send timeout (it reads nothing, its TCP window is closed) drops the connection too:
/// no close frame could reach it either. An idle connection keeps next to nothing here: the send
/// timer is made at the first send, and each ack is written into a pooled buffer for its send only.
/// </summary>
internal sealed partial class FrameWriter(WebSocket socket, IngestSession session, TimeProvider timeProvider, TimeSpan sendTimeout, ILogger logger) : IDisposable
{
    private static readonly TimeSpan CloseHandshakeTimeout = TimeSpan.FromSeconds(5);

    private static readonly object Sent = new();

    private object? _closeSent; // null, then the waiters' TaskCompletionSource (made when one asks) or Sent
    private CancellationTokenSource? _sendTimeout; // made at the first send: a timer each connection would otherwise hold from its start
    private CancellationTokenSource? _abortTimer;
    private bool _failed;
    private bool _closed;

    /// <summary>Completes once the close frame went out (or could not), or the writer ended without one.</summary>
    public Task CloseSent
    {
        get
        {
            if (Volatile.Read(ref _closeSent) is null)
            {
                Interlocked.CompareExchange(ref _closeSent, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously), null);
            }

            return _closeSent is TaskCompletionSource waiters ? waiters.Task : Task.CompletedTask;
        }
    }

    /// <summary>Sends until the session has queued its close frame (or ended without one).</summary>
    /// <remarks>One async method, not a loop awaited by a wrapper: each pending one holds its own state for the connection's life.</remarks>
    public async Task RunAsync()
    {
        try
        {
            var frames = session.Outbound;
            while (await frames.WaitToReadAsync())
            {
                while (frames.TryRead(out var frame))
                {
                    switch (frame.Kind)
                    {
                        case OutboundKind.Text:
                            await SendAsync(frame.Text);
                            session.OnSent(frame);
                            break;
                        case OutboundKind.Ack or OutboundKind.FinalAck:
                            if (session.TryTakeAck(frame.Kind == OutboundKind.FinalAck, out var upTo))
                            {
                                await SendAckAsync(upTo);
                            }

                            break;
                        case OutboundKind.Close:
                            await CloseAsync(frame.CloseStatus, frame.CloseDescription);
                            SetCloseSent();
                            break;
                    }
                }
            }
        }
        finally
        {
            SetCloseSent();
        }
    }

    /// <summary>
    /// After the WebSocket layer closed the connection on its own (1007, 1002), which then reads
    /// nothing more, or after the gateway shut reading (a client closed for abuse): the client's
    /// answer to the close is not read. Keeps the TCP connection
    /// for the close handshake's time (or until <paramref name="stopping"/>), since closing it at once
    /// resets it, and the reset can reach the client before it has read the close frame.
    /// </summary>
    public async Task HoldForClientCloseAsync(CancellationToken stopping)
    {
        try
        {
            await Task.Delay(CloseHandshakeTimeout, timeProvider, stopping);
        }
        catch (OperationCanceledException) when (stopping.IsCancellationRequested)
        {
            // Shutting down: the connection goes now.
        }
    }

    private void SetCloseSent() => (Interlocked.Exchange(ref _closeSent, Sent) as TaskCompletionSource)?.TrySetResult();

    public void Dispose()
    {
        _abortTimer?.Dispose();
        _sendTimeout?.Dispose();
    }

    /// <summary>An ack, written into a buffer from the shared pool that goes back once the frame is sent.</summary>
    private async ValueTask SendAckAsync(long upTo)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(ServerFrames.MaxAckLength);
        try
        {
            await SendAsync(buffer.AsMemory(0, ServerFrames.WriteAck(buffer, upTo)));
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private async ValueTask SendAsync(ReadOnlyMemory<byte> frame)
    {
        if (_failed || _closed)
        {
            return;
        }

        var timeout = StartSendTimeout();
        try
        {
            await socket.SendAsync(frame, WebSocketMessageType.Text, true, timeout.Token);
        }
        catch (Exception e) when (IsGone(e))
        {
            _failed = true; // the client is gone: nothing more can reach it
            OnSendTimeout();
        }
        finally
        {
            timeout.TryReset();
        }
    }

    private async ValueTask CloseAsync(int status, string description)
    {
        if (!_failed && !_closed)
        {
            _closed = true;
            var timeout = StartSendTimeout();
            try
            {
                await socket.CloseOutputAsync((WebSocketCloseStatus)status, description, timeout.Token);
            }
            catch (Exception e) when (IsGone(e))
            {
                _failed = true;
                OnSendTimeout();
            }
            finally
            {
                timeout.TryReset();
            }
        }

        ArmAbortTimer();
    }

    private void ArmAbortTimer()
    {
        _abortTimer ??= new CancellationTokenSource(CloseHandshakeTimeout, timeProvider);
        _abortTimer.Token.UnsafeRegister(static state => ((WebSocket)state!).Abort(), socket);
    }

    /// <summary>The send timeout's source, counting from now; reset by the caller once the send is done.</summary>
    private CancellationTokenSource StartSendTimeout()
    {
        _sendTimeout ??= new CancellationTokenSource(Timeout.InfiniteTimeSpan, timeProvider);
        _sendTimeout.CancelAfter(sendTimeout);
        return _sendTimeout;
    }

    /// <summary>Cancelling a send aborts the WebSocket (and so ends the reader): say why.</summary>
    private void OnSendTimeout()
    {
        if (_sendTimeout?.IsCancellationRequested == true)
        {
            Log.SendTimedOut(logger, session.ConnectionId, sendTimeout.TotalMilliseconds);
        }
    }

    private static bool IsGone(Exception e) =>
        e is WebSocketException or IOException or ObjectDisposedException or InvalidOperationException or OperationCanceledException;

    private static partial class Log
    {
        [LoggerMessage(Diagnostics.EventIds.SendTimedOut, LogLevel.Information, "Connection {ConnectionId}: a frame waited {TimeoutMs} ms for the client to read it; connection dropped")]
        public static partial void SendTimedOut(ILogger logger, string connectionId, double timeoutMs);
    }
}
