using System.Threading.Channels;
using Ingest.Contracts;
using Ingest.Gateway.Pipeline;
using Ingest.Gateway.Validation;

namespace Ingest.Gateway.Sessions;

/// <summary>
/// The wire contract of one connection, with no socket in it: numbers data messages, validates
/// them, queues events and dead letters for Kafka, turns delivery reports into cumulative acks and
/// error frames, and runs the close and drain sequences. Its frames go to <see cref="Outbound"/>,
/// which one writer drains in order; the reader feeds it whole messages.
/// </summary>
internal sealed partial class IngestSession : IDeliveryTarget
{
    private readonly SessionContext _context;
    private readonly ItemSource _source;
    private readonly AckTracker _tracker = new();
    private readonly EventParser _parser = new();
    private readonly Channel<OutboundFrame> _outbound = Channel.CreateUnbounded<OutboundFrame>(new UnboundedChannelOptions
    {
        SingleReader = true,
        AllowSynchronousContinuations = false,
    });
    private readonly ReadGate _reading = new();
    private readonly Lock _gate = new();

    private Task? _closing; // set once, under _gate
    private int _ackQueued;
    private long _lastAcked; // the writer's only

    public IngestSession(SessionContext context, string connectionId)
    {
        _context = context;
        _source = new ItemSource(connectionId);
    }

    public string ConnectionId => _source.ConnectionId;

    /// <summary>The frames to send, in order; completed after the close frame.</summary>
    public ChannelReader<OutboundFrame> Outbound => _outbound.Reader;

    /// <summary>Messages numbered so far (every data message counts, valid or not).</summary>
    public long MessagesReceived => _tracker.LastRegistered;

    /// <summary>Completes when the close sequence has queued its last frame (or none was due).</summary>
    public Task Completion => Volatile.Read(ref _closing) ?? Task.CompletedTask;

    /// <summary>
    /// Called for each received chunk of data. True while reading goes on; false once it stopped,
    /// and then the chunk is dropped (it is never acked, so the client sends it again).
    /// </summary>
    public bool TryRead() => _reading.TryRead();

    /// <summary>A whole data message: numbered, validated, then queued for Kafka or rejected.</summary>
    public async ValueTask OnMessageAsync(ReadOnlyMemory<byte> message, bool binary)
    {
        var receivedAt = _context.TimeProvider.GetUtcNow().ToUnixTimeMilliseconds();
        _context.Metrics.MessageReceived(message.Length);
        try
        {
            if (binary)
            {
                await RejectAsync(message, receivedAt, ErrorCodes.BinaryNotSupported, "binary messages are not supported: send each event as JSON text");
                return;
            }

            var reason = _parser.Parse(message.Span);
            if (reason != RejectReason.None)
            {
                await RejectAsync(message, receivedAt, reason.ToCode(), _parser.ErrorMessage);
                return;
            }

            var slices = _parser.Events;
            var events = new EventRecord[slices.Count];
            var span = message.Span;
            for (var i = 0; i < events.Length; i++)
            {
                var slice = slices[i];
                events[i] = new EventRecord(slice.Key, span.Slice(slice.Start, slice.Length).ToArray());
            }

            _context.Metrics.EventsReceived(events.Length);
            var sequence = _tracker.Register();
            await _context.Channel.WriteAsync(PipelineItem.ForEvents(this, _source, sequence, receivedAt, events), CancellationToken.None);
        }
        finally
        {
            _reading.EndMessage();
        }
    }

    /// <summary>
    /// A message over the size limit: its first <paramref name="prefix"/> bytes go to the dead-letter
    /// topic, reading stops, and the connection closes with 1009 after a final ack that does not
    /// cover it (it is numbered, never acked: the close code is its answer).
    /// </summary>
    public async Task OnMessageTooLargeAsync(ReadOnlyMemory<byte> prefix, int limit)
    {
        var sequence = _tracker.LastRegistered + 1;
        Log.MessageTooLarge(_context.Logger, ConnectionId, sequence, limit);
        _context.Metrics.MessageReceived(prefix.Length);
        _context.Metrics.MessageRejected();
        _reading.Stop();
        await DeadLetterUntrackedAsync(prefix, sequence, ErrorCodes.MessageTooLarge, $"the message exceeds the {limit}-byte limit; its first {limit} bytes are kept");
        await CloseAsync(CloseCodes.MessageTooBig, $"message exceeds {limit} bytes", draining: false);
    }

    /// <summary>
    /// The WebSocket layer found invalid UTF-8 and already closed with 1007 (RFC 6455 section 8.1):
    /// no frame can follow. What was received goes to the dead-letter topic.
    /// </summary>
    public async Task OnInvalidUtf8Async(ReadOnlyMemory<byte> received)
    {
        var sequence = _tracker.LastRegistered + 1;
        Log.InvalidUtf8(_context.Logger, ConnectionId, sequence);
        _context.Metrics.MessageReceived(received.Length);
        _context.Metrics.MessageRejected();
        _reading.Stop();
        await DeadLetterUntrackedAsync(received, sequence, ErrorCodes.InvalidUtf8, "the text message is not valid UTF-8 (RFC 6455 section 8.1); the connection was closed with 1007");
        Finish();
    }

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

    /// <summary>For the writer: the ack to send now, if any (<paramref name="final"/>: even if nothing new).</summary>
    public bool TryTakeAck(bool final, out long upTo)
    {
        Volatile.Write(ref _ackQueued, 0);
        upTo = _tracker.ResolvedUpTo;
        if (upTo <= _lastAcked && !final)
        {
            return false;
        }

        _lastAcked = upTo;
        _context.Metrics.AckSent();
        return true;
    }

    /// <summary>For the writer: a frame went out (or could not, the client being gone).</summary>
    public void OnSent(in OutboundFrame frame)
    {
        if (frame.Answers != 0)
        {
            _tracker.Resolve(frame.Answers);
            SignalAck();
        }
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

    /// <summary>Error frame first, then the dead letter; the message resolves once both are done.</summary>
    private async ValueTask RejectAsync(ReadOnlyMemory<byte> message, long receivedAt, string code, string detail)
    {
        _context.Metrics.MessageRejected();
        var sequence = _tracker.Register(parts: _context.DeadLetters ? 2 : 1);
        Send(OutboundFrame.Frame(ServerFrames.Error(sequence, code, detail), answers: sequence));
        if (_context.DeadLetters)
        {
            await _context.Channel.WriteAsync(
                PipelineItem.ForDeadLetter(this, _source, sequence, receivedAt, message.ToArray(), code, $"message {sequence}: {detail}"),
                CancellationToken.None);
        }
    }

    /// <summary>A dead letter nobody waits for: the connection is closing and will not ack it.</summary>
    private async ValueTask DeadLetterUntrackedAsync(ReadOnlyMemory<byte> message, long sequence, string code, string detail)
    {
        if (_context.DeadLetters)
        {
            var receivedAt = _context.TimeProvider.GetUtcNow().ToUnixTimeMilliseconds();
            await _context.Channel.WriteAsync(
                PipelineItem.ForDeadLetter(UntrackedDelivery.Instance, _source, sequence, receivedAt, message.ToArray(), code, $"message {sequence}: {detail}"),
                CancellationToken.None);
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

        Send(OutboundFrame.FinalAck);
        Send(OutboundFrame.Close(status, description));
        _outbound.Writer.TryComplete();
    }

    /// <summary>No close frame is due (the client is gone, or the WebSocket layer closed): let the writer end.</summary>
    private void Finish()
    {
        lock (_gate)
        {
            _closing ??= Task.CompletedTask;
        }

        _outbound.Writer.TryComplete();
    }

    private void Send(OutboundFrame frame)
    {
        if (!_outbound.Writer.TryWrite(frame))
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
            _outbound.Writer.TryWrite(OutboundFrame.Ack);
        }
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
