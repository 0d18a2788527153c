using System.Net.WebSockets;
using Ingest.Gateway.Sessions;

namespace Ingest.Gateway.WebSockets;

/// <summary>What <see cref="MessageReader.ReadAsync"/> found.</summary>
internal enum ReadOutcome
{
    /// <summary>A whole data message is in <see cref="MessageReader.Message"/>.</summary>
    Message,

    /// <summary>A message passed the size limit; <see cref="MessageReader.Message"/> holds its first bytes.</summary>
    TooLarge,

    /// <summary>
    /// The WebSocket layer found invalid UTF-8 in a text message and closed the connection with 1007
    /// (RFC 6455 section 8.1); <see cref="MessageReader.Message"/> holds what was received of it.
    /// </summary>
    InvalidUtf8,

    /// <summary>
    /// The client broke the WebSocket protocol inside a message and the WebSocket layer closed the
    /// connection with 1002; <see cref="MessageReader.Message"/> holds what was received of it, and
    /// <see cref="MessageReader.ProtocolErrorReason"/> what was wrong.
    /// </summary>
    ProtocolError,

    /// <summary>The client's close frame arrived.</summary>
    Closed,

    /// <summary>
    /// Reading was shut (<see cref="Sessions.ReadGate.Shut"/>) and the gateway's close is out: the
    /// client is read no further, not even for its close frame.
    /// </summary>
    Shut,
}

/// <summary>
/// Reads whole messages from a WebSocket: reassembles fragments into a pooled buffer up to the size
/// limit, waits for idle clients with zero-byte receives (so an idle connection holds no buffer),
/// takes the bytes of a growing buffer from the reassembly budget before it reads into them (so a
/// connection without budget stops reading), and recovers what was received of a message the
/// WebSocket layer rejected.
/// </summary>
internal sealed class MessageReader(WebSocket socket, MessageBuffer buffer, ReadGate gate, Func<Task> closeSent) : IDisposable
{
    /// <summary>The message of a <see cref="WebSocketException"/> the layer throws without one of its own.</summary>
    private static readonly string Utf8FailureMessage = new WebSocketException(WebSocketError.Faulted).Message;

    private byte[]? _probe; // one byte read past the size limit; made only when a message reaches it
    private bool _streaming;

    /// <summary>The message (or prefix) of the last read; valid until <see cref="Release"/>.</summary>
    public ReadOnlyMemory<byte> Message => buffer.Memory;

    /// <summary>Whether the last message was binary.</summary>
    public bool IsBinary { get; private set; }

    /// <summary>
    /// Whether the WebSocket layer closed the connection itself for the last
    /// <see cref="ReadOutcome.InvalidUtf8"/> or <see cref="ReadOutcome.ProtocolError"/> (false: the
    /// reader found the fault, and the gateway must close).
    /// </summary>
    public bool LayerClosed { get; private set; }

    /// <summary>What the WebSocket layer said of the last <see cref="ReadOutcome.ProtocolError"/>.</summary>
    public string ProtocolErrorReason { get; private set; } = "";

    /// <summary>
    /// Reads until a message is complete or the connection says something else. Data that arrives
    /// after reading has stopped is dropped.
    /// </summary>
    /// <exception cref="WebSocketException">The client vanished.</exception>
    public async ValueTask<ReadOutcome> ReadAsync()
    {
        var atBoundary = true;
        IsBinary = false; // until the message's first chunk says otherwise (only text is checked for UTF-8)
        while (true)
        {
            ValueWebSocketReceiveResult result;
            try
            {
                // Between messages, a client that paused is waited for with a zero-byte receive, so
                // that an idle connection holds no receive buffer (frames are only parsed once data
                // is there). A client that streams (its next message was already there when asked
                // for) is read straight into the buffer it keeps: one receive per message, not two.
                Memory<byte> memory;
                if (gate.IsStopped)
                {
                    // Our close is on its way: read nothing until it is out, or the layer could find
                    // fault with what is read to be dropped and close with its own code first. Then
                    // what arrives goes through the first buffer, which takes nothing from the budget.
                    await closeSent();
                    if (gate.IsShut)
                    {
                        return ReadOutcome.Shut;
                    }

                    buffer.Reset();
                    memory = buffer.GetReceiveMemory();
                }
                else if (atBoundary && !_streaming)
                {
                    memory = Memory<byte>.Empty;
                }
                else if (await ReserveAsync())
                {
                    memory = buffer.GetReceiveMemory();
                }
                else
                {
                    continue; // reading stopped while this connection waited for memory
                }

                var receive = socket.ReceiveAsync(memory, CancellationToken.None);
                if (atBoundary)
                {
                    _streaming = receive.IsCompleted;
                    atBoundary = false;
                }

                result = await receive;
            }
            catch (WebSocketException e) when (e.WebSocketErrorCode == WebSocketError.Faulted && !gate.IsStopped)
            {
                return Faulted(e, probed: []);
            }

            if (result.MessageType == WebSocketMessageType.Close)
            {
                return ReadOutcome.Closed;
            }

            if (!gate.TryRead())
            {
                buffer.Reset();
                continue;
            }

            if (buffer.Length == 0)
            {
                IsBinary = result.MessageType == WebSocketMessageType.Binary;
            }

            buffer.Advance(result.Count);
            if (!result.EndOfMessage)
            {
                if (!buffer.IsFull)
                {
                    continue;
                }

                // At the limit: the message is acceptable only if nothing but empty frames follows.
                ValueWebSocketReceiveResult probe;
                _probe ??= new byte[1];
                _probe[0] = 0; // what a fault leaves here is the byte the layer rejected
                try
                {
                    do
                    {
                        probe = await socket.ReceiveAsync(_probe.AsMemory(), CancellationToken.None);
                    }
                    while (probe is { Count: 0, EndOfMessage: false } && probe.MessageType != WebSocketMessageType.Close);
                }
                catch (WebSocketException e) when (e.WebSocketErrorCode == WebSocketError.Faulted)
                {
                    return Faulted(e, probed: _probe[0] == 0 ? [] : _probe);
                }

                if (probe.MessageType == WebSocketMessageType.Close)
                {
                    return ReadOutcome.Closed;
                }

                if (probe.Count > 0)
                {
                    return ReadOutcome.TooLarge;
                }
            }

            // The layer checks UTF-8 as text arrives, but an empty last frame lets a message end in
            // the middle of a character unnoticed (and the layer then carries that half character
            // into the next message). Such a message is not UTF-8: it is answered as one.
            if (!IsBinary && Utf8Text.EndsInsideACharacter(buffer.Memory.Span))
            {
                LayerClosed = false;
                return ReadOutcome.InvalidUtf8;
            }

            return ReadOutcome.Message;
        }
    }

    /// <summary>
    /// The WebSocket layer failed the connection while a message arrived, and has closed it: with
    /// 1007 for text that is not UTF-8, with 1002 for a broken frame. It throws its UTF-8 failure
    /// with no message of its own (protocol errors mostly name themselves; a bad close frame does
    /// not), so a fault is a UTF-8 failure when it says nothing and the text received is not UTF-8.
    /// The layer has already copied the bad chunk into the buffer without saying how much: what
    /// was received is recovered for the dead letter. <paramref name="probed"/> is the byte read
    /// past the size limit, which the layer checked too but the message does not keep.
    /// </summary>
    private ReadOutcome Faulted(WebSocketException e, ReadOnlySpan<byte> probed)
    {
        buffer.RecoverUnreportedBytes();
        if (buffer.Length == 0)
        {
            throw e; // between messages: nothing to keep, the connection is simply over
        }

        LayerClosed = true;
        if (!IsBinary && e.InnerException is null && e.Message == Utf8FailureMessage && Utf8Text.IsNotUtf8(buffer.Memory.Span, probed))
        {
            return ReadOutcome.InvalidUtf8;
        }

        ProtocolErrorReason = e.Message;
        return ReadOutcome.ProtocolError;
    }

    /// <summary>Done with <see cref="Message"/>: the buffer is kept only while the client streams.</summary>
    public void Release() => buffer.Reset(keepBuffer: _streaming);

    public void Dispose() => buffer.Dispose();

    /// <summary>Takes from the budget what the next receive needs; false when reading stopped meanwhile.</summary>
    private async ValueTask<bool> ReserveAsync()
    {
        try
        {
            await buffer.EnsureReservedAsync(gate.StoppedToken);
            return true;
        }
        catch (OperationCanceledException) when (gate.IsStopped)
        {
            buffer.Reset();
            return false;
        }
    }
}
