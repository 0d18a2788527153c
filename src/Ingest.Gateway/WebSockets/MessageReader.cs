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
}

/// <summary>
/// Reads whole messages from a WebSocket: reassembles fragments into a pooled buffer up to the size
/// limit, waits for idle clients with zero-byte receives (so an idle connection holds no buffer),
/// takes the bytes of a growing buffer from the reassembly budget before it reads into them (so a
/// connection without budget stops reading), and recovers what was received of a message the
/// WebSocket layer rejected.
/// </summary>
internal sealed class MessageReader(WebSocket socket, MessageBuffer buffer, ReadGate gate) : IDisposable
{
    private readonly byte[] _probe = new byte[1];
    private bool _streaming;

    /// <summary>The message (or prefix) of the last read; valid until <see cref="Release"/>.</summary>
    public ReadOnlyMemory<byte> Message => buffer.Memory;

    /// <summary>Whether the last message was binary.</summary>
    public bool IsBinary { get; private set; }

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
                    // Data dropped (reading has stopped) still goes through the first buffer, which
                    // takes nothing from the budget: the layer checks the UTF-8 of text it copies.
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
                // Invalid UTF-8 and protocol errors fault the same way, and the layer does not say
                // which (its close status is what it sent, not what it received). The layer has
                // already copied the bad chunk into the buffer without saying how much: recover it,
                // and an invalid sequence in it tells the two apart.
                buffer.RecoverUnreportedBytes();
                if (Utf8Text.HasInvalidSequence(buffer.Memory.Span))
                {
                    return ReadOutcome.InvalidUtf8;
                }

                if (buffer.Length == 0)
                {
                    throw; // between messages: nothing to keep, the connection is simply over
                }

                ProtocolErrorReason = e.Message;
                return ReadOutcome.ProtocolError;
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

                // At the limit: the message is acceptable only if nothing follows.
                var probe = await socket.ReceiveAsync(_probe.AsMemory(), CancellationToken.None);
                if (probe.MessageType == WebSocketMessageType.Close)
                {
                    return ReadOutcome.Closed;
                }

                if (probe.Count > 0 || !probe.EndOfMessage)
                {
                    return ReadOutcome.TooLarge;
                }
            }

            return ReadOutcome.Message;
        }
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
