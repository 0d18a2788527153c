using Ingest.Contracts;
using Ingest.Gateway.Limits;
using Ingest.Gateway.Pipeline;
using Ingest.Gateway.Validation;

namespace Ingest.Gateway.Sessions;

/// <summary>
/// The wire contract of one connection (docs/protocol.md), with no socket in it: numbers data
/// messages, validates them, queues events and dead letters for Kafka, turns delivery reports into
/// cumulative acks and error frames, enforces the connection's limits, and runs the close and
/// drain sequences. Its frames go to <see cref="Outbound"/>, which one writer drains in order; the
/// reader feeds it whole messages.
/// </summary>
internal sealed partial class IngestSession : IDeliveryTarget
{
    private readonly SessionContext _context;
    private readonly ItemSource _source;
    private readonly byte[]? _allowedClientId;
    private readonly AckTracker _tracker = new();
    private readonly EventParser _parser = new();
    // Unbounded in effect: the outbound limit closes a connection long before it grows far.
    private readonly OutboundQueue _outbound = new();
    private readonly ReadGate _reading;
    private readonly Lock _gate = new();

    private RejectBudget _rejects; // the reader's only
    private long _readAt; // when the message being handled was read (a TimeProvider timestamp); the reader's only
    private long _eventsReceived; // the reader's only
    private Task? _closing; // set once, under _gate
    private SessionClose? _closed; // set once, when the close is decided

    /// <param name="context">What every session shares.</param>
    /// <param name="connectionId">The connection's id, written to its records.</param>
    /// <param name="allowedClientId">The only <c>clientId</c> this connection's token allows, or null for any.</param>
    /// <param name="addressRejects">The allowance of rejected messages the connection's address shares, or null for none.</param>
    public IngestSession(SessionContext context, string connectionId, string? allowedClientId = null, AddressRejects? addressRejects = null)
    {
        _context = context;
        _source = new ItemSource(connectionId);
        _allowedClientId = allowedClientId is null ? null : System.Text.Encoding.UTF8.GetBytes(allowedClientId);
        _reading = new ReadGate(context.TimeProvider);
        _rejects = context.NewRejectBudget(addressRejects);
    }

    public string ConnectionId => _source.ConnectionId;

    /// <summary>The frames to send, in order; completed after the close frame.</summary>
    public OutboundQueue Outbound => _outbound;

    /// <summary>Messages numbered so far (every data message counts, valid or not).</summary>
    public long MessagesReceived => _tracker.LastRegistered;

    /// <summary>Events of valid messages queued for Kafka so far.</summary>
    public long EventsReceived => Volatile.Read(ref _eventsReceived);

    /// <summary>How the gateway closed the connection (or the WebSocket layer for it); null while it has not, or when the client vanished.</summary>
    public SessionClose? Closed => Volatile.Read(ref _closed);

    /// <summary>Where reading stands; the reader asks it before and while it reads.</summary>
    public ReadGate Reading => _reading;

    /// <summary>Completes when the close sequence has queued its last frame (or none was due).</summary>
    public Task Completion => Volatile.Read(ref _closing) ?? Task.CompletedTask;

    /// <summary>
    /// Called for each received chunk of data. True while reading goes on; false once it stopped,
    /// and then the chunk is dropped (it is never acked, so the client sends it again).
    /// </summary>
    public bool TryRead() => _reading.TryRead();

    /// <summary>
    /// A whole data message: numbered, validated, then queued for Kafka or rejected. What goes to
    /// Kafka takes its bytes from the queue budget first, waiting for them while Kafka is behind
    /// (the connection is read no further meanwhile); Kafka's resolution gives them back.
    /// </summary>
    public async ValueTask OnMessageAsync(ReadOnlyMemory<byte> message, bool binary)
    {
        _reading.MessageWhole();
        var receivedAt = _context.TimeProvider.GetUtcNow().ToUnixTimeMilliseconds();
        _readAt = _context.TimeProvider.GetTimestamp();
        _context.Metrics.MessageArrived(message.Length);
        var lease = MemoryLease.None;
        try
        {
            await _context.Queue.ReserveAsync(message.Length, _reading.StoppedToken);
            lease = new MemoryLease(_context.Queue, message.Length);
            var reason = binary ? RejectReason.BinaryNotSupported : _parser.Parse(message.Span);

            // Past the connection's rate this waits: the client is read more slowly, nothing is
            // dropped. An event takes a token; a rejected message takes one too, as it costs as much.
            await _context.EventRate.AcquireAsync(_source, reason == RejectReason.None ? _parser.Events.Count : 1, _reading.StoppedToken);
            if (reason != RejectReason.None)
            {
                var detail = binary ? "binary messages are not supported: send each event as JSON text" : _parser.ErrorMessage;
                await RejectAsync(message, receivedAt, reason.ToCode(), detail, lease);
                return;
            }

            if (ForeignClientId() is { } foreign)
            {
                _context.Metrics.EventsRefused(_parser.Events.Count);
                await RejectAsync(message, receivedAt, ErrorCodes.ClientIdMismatch, foreign, lease);
                return;
            }

            var slices = _parser.Events;
            Volatile.Write(ref _eventsReceived, _eventsReceived + slices.Count);
            var events = new EventRecord[slices.Count];
            var span = message.Span;
            for (var i = 0; i < events.Length; i++)
            {
                var slice = slices[i];
                events[i] = new EventRecord(slice.Key, span.Slice(slice.Start, slice.Length).ToArray());
            }

            _context.Metrics.MessageAccepted(events.Length);
            var sequence = _tracker.Register(_readAt);
            await _context.Channel.WriteAsync(PipelineItem.ForEvents(this, _source, sequence, receivedAt, events, lease), CancellationToken.None);
        }
        catch (OperationCanceledException) when (_reading.IsStopped)
        {
            // Reading stopped while this message waited for memory or for its rate: it is dropped,
            // never acked (the client sends it again).
            _context.Metrics.MessageDropped();
            lease.Release();
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
        _context.Metrics.MessageArrived(prefix.Length);
        _context.Metrics.MessageRejected(ErrorCodes.MessageTooLarge);
        _reading.Stop();
        await DeadLetterUntrackedAsync(prefix, sequence, ErrorCodes.MessageTooLarge, $"the message exceeds the {limit}-byte limit; its first {limit} bytes are kept");
        await CloseAsync(CloseCodes.MessageTooBig, $"message exceeds {limit} bytes", draining: false);
    }

    /// <summary>
    /// A text message that is not UTF-8 (RFC 6455 section 8.1): what was received goes to the
    /// dead-letter topic and the connection ends with 1007. Usually the WebSocket layer found it and
    /// already closed, and no frame can follow; with <paramref name="closeItself"/> the layer let it
    /// through whole, and the gateway closes, after a final ack that does not cover it.
    /// </summary>
    public async Task OnInvalidUtf8Async(ReadOnlyMemory<byte> received, bool closeItself = false)
    {
        var sequence = _tracker.LastRegistered + 1;
        Log.InvalidUtf8(_context.Logger, ConnectionId, sequence);
        const string Detail = "the text message is not valid UTF-8 (RFC 6455 section 8.1); the connection was closed with 1007";
        if (!closeItself)
        {
            await OnBrokenMessageAsync(received, sequence, ErrorCodes.InvalidUtf8, Detail, new SessionClose(CloseCodes.InvalidPayload, "text that is not UTF-8"));
            return;
        }

        _context.Metrics.MessageArrived(received.Length);
        _context.Metrics.MessageRejected(ErrorCodes.InvalidUtf8);
        _reading.Stop();
        await DeadLetterUntrackedAsync(received, sequence, ErrorCodes.InvalidUtf8, Detail);
        await CloseAsync(CloseCodes.InvalidPayload, "text that is not UTF-8", draining: false);
    }

    /// <summary>
    /// The client broke the WebSocket protocol in the middle of a message (RFC 6455 section 5: a
    /// bad opcode, an unmasked frame, a control frame inside the message...), and the WebSocket
    /// layer already closed with 1002: no frame can follow. What was received goes to the dead-letter topic.
    /// </summary>
    public Task OnProtocolErrorAsync(ReadOnlyMemory<byte> received, string reason)
    {
        var sequence = _tracker.LastRegistered + 1;
        Log.ProtocolError(_context.Logger, ConnectionId, sequence, reason);
        return OnBrokenMessageAsync(received, sequence, ErrorCodes.ProtocolError, $"the client broke the WebSocket protocol (RFC 6455) in this message ({reason}); the connection was closed with 1002", new SessionClose(CloseCodes.ProtocolError, reason));
    }

    /// <summary>What was received goes to the dead-letter topic; the WebSocket layer closed with <paramref name="closed"/>.</summary>
    private async Task OnBrokenMessageAsync(ReadOnlyMemory<byte> received, long sequence, string code, string detail, SessionClose closed)
    {
        _context.Metrics.MessageArrived(received.Length);
        _context.Metrics.MessageRejected(code);
        _reading.Stop();
        await DeadLetterUntrackedAsync(received, sequence, code, detail);
        Volatile.Write(ref _closed, closed);
        Finish();
    }

    /// <summary>
    /// Error frame first, then the dead letter; the message resolves once its error frame is sent. A
    /// rejection past the connection's <see cref="RejectBudget"/> is answered the same way, then
    /// reading stops and the connection closes with 1008 after a final ack.
    /// </summary>
    private async ValueTask RejectAsync(ReadOnlyMemory<byte> message, long receivedAt, string code, string detail, MemoryLease lease)
    {
        _context.Metrics.MessageRejected(code);
        // Resolved by its error frame alone: the dead letter is written beside it, and a dead-letter
        // topic that is failing or missing must not hold back the acks of the valid messages after
        // it for the delivery timeout (a failed write is counted and logged by the producer).
        var sequence = _tracker.Register(_readAt);
        Send(OutboundFrame.Frame(ServerFrames.Error(sequence, code, detail), answers: sequence));
        var spent = _rejects.TryTake(_context.TimeProvider, _context.TimeProvider.GetTimestamp());
        if (spent != RejectAllowance.Left)
        {
            var (burst, perSecond) = spent == RejectAllowance.Connection ? _context.RejectLimits : _context.AddressRejectLimits;
            Log.TooManyRejected(_context.Logger, ConnectionId, sequence, spent == RejectAllowance.Connection ? "connection" : "address", burst, perSecond);
            _reading.Shut(); // what follows is never read, never acked
            _ = CloseAsync(CloseCodes.PolicyViolation, "too many rejected messages", draining: false);
        }

        if (!_context.DeadLetters)
        {
            lease.Release();
            return;
        }

        await _context.Channel.WriteAsync(
            PipelineItem.ForDeadLetter(UntrackedDelivery.Instance, _source, sequence, receivedAt, message.ToArray(), code, $"message {sequence}: {detail}", lease),
            CancellationToken.None);
    }

    /// <summary>
    /// A dead letter nobody waits for: the connection is closing and will not ack it. It waits for
    /// queue memory as long as a close waits for Kafka; past that it is not written (and logged).
    /// </summary>
    private async ValueTask DeadLetterUntrackedAsync(ReadOnlyMemory<byte> message, long sequence, string code, string detail)
    {
        if (!_context.DeadLetters)
        {
            return;
        }

        using var timeout = new CancellationTokenSource(_context.CloseWait, _context.TimeProvider);
        try
        {
            await _context.Queue.ReserveAsync(message.Length, timeout.Token);
        }
        catch (OperationCanceledException)
        {
            Log.DeadLetterNotQueued(_context.Logger, ConnectionId, sequence, code, _context.CloseWait.TotalMilliseconds);
            _context.Metrics.DeadLetterWritten(failed: true);
            return;
        }

        var lease = new MemoryLease(_context.Queue, message.Length);
        var receivedAt = _context.TimeProvider.GetUtcNow().ToUnixTimeMilliseconds();
        await _context.Channel.WriteAsync(
            PipelineItem.ForDeadLetter(UntrackedDelivery.Instance, _source, sequence, receivedAt, message.ToArray(), code, $"message {sequence}: {detail}", lease),
            CancellationToken.None);
    }

    /// <summary>With a token that names a clientId: why the message is refused, or null when every event is that client's.</summary>
    private string? ForeignClientId()
    {
        if (_allowedClientId is null)
        {
            return null;
        }

        var events = _parser.Events;
        for (var i = 0; i < events.Count; i++)
        {
            if (!events[i].Key.AsSpan().SequenceEqual(_allowedClientId))
            {
                var which = events.Count == 1 ? "the event" : $"event {i}";
                return $"{which} has clientId \"{System.Text.Encoding.UTF8.GetString(events[i].Key)}\"; this connection's token allows only \"{System.Text.Encoding.UTF8.GetString(_allowedClientId)}\"";
            }
        }

        return null;
    }
}
