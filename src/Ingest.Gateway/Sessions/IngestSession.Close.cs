using Ingest.Contracts;

namespace Ingest.Gateway.Sessions;

/// <summary>The session's close sequences: client close, shutdown drain, timeouts, lost connections.</summary>
internal sealed partial class IngestSession
{
    /// <summary>The client sent its close frame: final ack for everything read, then close 1000.</summary>
    public Task OnClientCloseAsync()
    {
        _reading.Stop();
        return CloseAsync(CloseCodes.Normal, "", draining: false);
    }

    /// <summary>The client is gone (its socket failed): nothing more is read or sent.</summary>
    public void OnConnectionLost()
    {
        _reading.Stop();
        Finish();
    }

    /// <summary>
    /// Shutdown, once the <see cref="Lifecycle.ShutdownBudget"/> has begun: a draining frame, stop
    /// reading at the next message boundary, wait for what was read to resolve (within the budget's
    /// share for connections), final ack, close 1001 (1011 when not everything resolved).
    /// </summary>
    public void BeginDrain() => _ = CloseAsync(CloseCodes.GoingAway, "server shutting down", draining: true);

    /// <summary>
    /// Called about once a second: closes a connection whose message has taken longer than
    /// <c>MessageTimeoutMs</c> (1008: it holds reassembly memory) or that has been idle longer than
    /// <c>IdleTimeoutMs</c> (1000).
    /// </summary>
    public void CheckTimeouts()
    {
        if (Volatile.Read(ref _closing) is not null)
        {
            return;
        }

        // A message that arrived whole and waits for the gateway's room (memory, rate, a full
        // channel while Kafka is slow) is backpressure, not a slow client: no timeout for it.
        var (state, duration, whole) = _reading.Snapshot();
        if (state is ReadGate.ReadState.InMessage or ReadGate.ReadState.StopAtBoundary && !whole && duration > _context.MessageTimeout)
        {
            Log.MessageTimedOut(_context.Logger, ConnectionId, _tracker.LastRegistered + 1, _context.MessageTimeout.TotalMilliseconds);
            _context.Metrics.MessageTimedOut();
            _reading.Stop(); // what was received of it is dropped, never acked
            _ = CloseAsync(CloseCodes.PolicyViolation, $"message not completed within {_context.MessageTimeout.TotalMilliseconds:0} ms", draining: false);
        }
        else if (state == ReadGate.ReadState.Idle && _context.IdleTimeout > TimeSpan.Zero && duration > _context.IdleTimeout)
        {
            _reading.Stop();
            _ = CloseAsync(CloseCodes.Normal, $"idle for {_context.IdleTimeout.TotalMilliseconds:0} ms", draining: false);
        }
    }

    private Task CloseAsync(int status, string description, bool draining)
    {
        lock (_gate)
        {
            _closing ??= RunCloseAsync(status, description, draining);
            return _closing;
        }
    }

    private async Task RunCloseAsync(int status, string description, bool draining)
    {
        if (draining)
        {
            // At once, on the caller's stack: the client hears of the drain and reading stops at
            // the next boundary, even if the rest of the sequence waits for a thread.
            Send(OutboundFrame.Frame(ServerFrames.Draining(Random.Shared.Next(0, _context.ReconnectWindowMs + 1))));
            _reading.StopAtBoundary();
        }

        await Task.Yield(); // never wait on the caller's stack (it may be the reader, or a shutdown signal)

        // A shutdown waits by its budget; other closes by their own bound, cut short if a shutdown begins.
        using var timeout = draining ? null : new CancellationTokenSource(_context.CloseWait, _context.TimeProvider);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(timeout?.Token ?? CancellationToken.None, _context.Shutdown.Connections);
        if (draining && !await WaitAsync(_reading.Stopped, linked.Token))
        {
            _reading.Stop(); // a message still arriving when the budget ran out is dropped, unacked
        }

        var upTo = _tracker.LastRegistered;
        var resolved = await WaitAsync(_tracker.WhenResolvedAsync(upTo), linked.Token);
        if (!resolved)
        {
            Log.CloseBeforeResolved(_context.Logger, ConnectionId, _tracker.ResolvedUpTo, upTo);
            if (draining)
            {
                (status, description) = (CloseCodes.InternalError, "server shutting down before every message was resolved");
            }
        }

        Volatile.Write(ref _closed, new SessionClose(status, description));
        Send(OutboundFrame.FinalAck);
        Send(OutboundFrame.Close(status, description));
        _outbound.TryComplete();
    }

    /// <summary>No close frame is due (the client is gone, or the WebSocket layer closed): let the writer end.</summary>
    private void Finish()
    {
        lock (_gate)
        {
            _closing ??= Task.CompletedTask;
        }

        _outbound.TryComplete();
    }

    private static async Task<bool> WaitAsync(Task task, CancellationToken cancellationToken)
    {
        try
        {
            await task.WaitAsync(cancellationToken);
            return true;
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            return false;
        }
    }
}

/// <summary>The close frame a session sent (or the WebSocket layer sent for it): code and reason.</summary>
internal sealed record SessionClose(int Status, string Reason);
