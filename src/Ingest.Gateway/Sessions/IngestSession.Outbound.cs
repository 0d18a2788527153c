using Ingest.Contracts;
using Ingest.Gateway.Pipeline;

namespace Ingest.Gateway.Sessions;

/// <summary>The session's side of its outbound frames: acks, error frames, and what a client may leave unread.</summary>
internal sealed partial class IngestSession
{
    private int _ackQueued;
    private long _lastAcked; // written by the writer only
    private long _outboundBytes; // text frames queued and not yet sent
    private TaskCompletionSource? _ackProgress; // a reader waiting for acks to go out, under _gate

    /// <summary>For the writer: the ack to send now, if any (<paramref name="final"/>: even if nothing new).</summary>
    public bool TryTakeAck(bool final, out long upTo)
    {
        Volatile.Write(ref _ackQueued, 0);
        upTo = _tracker.ResolvedUpTo;
        if (upTo <= _lastAcked && !final)
        {
            return false;
        }

        Volatile.Write(ref _lastAcked, upTo);
        _context.Metrics.AckSent();
        RecordAckTimes(upTo);
        TaskCompletionSource? waiting;
        lock (_gate)
        {
            (waiting, _ackProgress) = (_ackProgress, null);
        }

        waiting?.TrySetResult();
        return true;
    }

    /// <summary>The send-to-ack time of each message the ack up to <paramref name="upTo"/> covers for the first time.</summary>
    private void RecordAckTimes(long upTo)
    {
        var times = _tracker.ReceivedTimes(out var from);
        if (from > upTo)
        {
            return;
        }

        var time = _context.TimeProvider;
        var now = time.GetTimestamp();
        var mask = times.Length - 1;
        for (var sequence = from; sequence <= upTo; sequence++)
        {
            _context.Metrics.MessageAcked(time.GetElapsedTime(times[sequence & mask], now));
        }

        _tracker.Acknowledged(upTo);
    }

    /// <summary>For the writer: a frame went out (or could not, the client being gone).</summary>
    public void OnSent(in OutboundFrame frame)
    {
        if (frame.Text is { } text)
        {
            Interlocked.Add(ref _outboundBytes, -text.Length);
        }

        if (frame.Answers != 0)
        {
            _tracker.Resolve(frame.Answers);
            SignalAck();
        }
    }

    /// <summary>
    /// Before the next message is read: waits while the client has <c>MaxUnackedMessages</c>
    /// messages read and not acked (it does not read its acks), so that reading stops instead of
    /// the work piling up. Ends early when reading stops.
    /// </summary>
    public ValueTask WaitForAckRoomAsync()
    {
        if (_tracker.LastRegistered - Volatile.Read(ref _lastAcked) < _context.MaxUnackedMessages)
        {
            return ValueTask.CompletedTask;
        }

        return new ValueTask(WaitForAckProgressAsync());
    }

    void IDeliveryTarget.OnDelivered(PipelineItem item)
    {
        _tracker.Resolve(item.Sequence);
        SignalAck();
    }

    void IDeliveryTarget.OnDeliveryFailed(PipelineItem item, string reason) =>
        Send(OutboundFrame.Frame(
            ServerFrames.Error(item.Sequence, ErrorCodes.DeliveryFailed, $"Kafka did not take the message within the delivery timeout ({reason}); it may be sent again"),
            answers: item.Sequence));

    private async Task WaitForAckProgressAsync()
    {
        var token = _reading.StoppedToken;
        while (_tracker.LastRegistered - Volatile.Read(ref _lastAcked) >= _context.MaxUnackedMessages && !token.IsCancellationRequested)
        {
            Task progress;
            lock (_gate)
            {
                _ackProgress ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                progress = _ackProgress.Task;
            }

            SignalAck(); // an ack may be due that nothing has asked for yet
            await progress.WaitAsync(token).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }
    }

    private void Send(OutboundFrame frame)
    {
        if (frame.Text is { } text && Interlocked.Add(ref _outboundBytes, text.Length) > _context.MaxOutboundBytes)
        {
            // The client leaves its frames unread: stop reading it and close (1008) instead of
            // queueing more. The frame still goes in the queue; its message resolves when it is sent.
            Log.OutboundLimit(_context.Logger, ConnectionId, Volatile.Read(ref _outboundBytes), _context.MaxOutboundBytes);
            _reading.Stop();
            _ = CloseAsync(CloseCodes.PolicyViolation, "too many unread frames", draining: false);
        }

        if (!_outbound.TryWrite(frame))
        {
            // The writer has ended (the connection is over): the frame can never be sent, but what it
            // answers still counts as resolved, so that nothing waits for it.
            OnSent(frame);
        }
    }

    private void SignalAck()
    {
        if (Interlocked.Exchange(ref _ackQueued, 1) == 0)
        {
            _outbound.TryWrite(OutboundFrame.Ack);
        }
    }
}
