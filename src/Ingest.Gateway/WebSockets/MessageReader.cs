using System.Net.WebSockets;

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

    /// <summary>The client's close frame arrived.</summary>
    Closed,
}

/// <summary>
/// Reads whole messages from a WebSocket: reassembles fragments into a pooled buffer up to the size
/// limit, waits for idle clients with zero-byte receives (so an idle connection holds no buffer),
/// and recovers what was received of a text message the WebSocket layer rejected as invalid UTF-8.
/// </summary>
internal sealed class MessageReader(WebSocket socket, MessageBuffer buffer, Func<bool> tryRead) : IDisposable
{
    private readonly byte[] _probe = new byte[1];
    private bool _streaming;

    /// <summary>The message (or prefix) of the last read; valid until <see cref="Release"/>.</summary>
    public ReadOnlyMemory<byte> Message => buffer.Memory;

    /// <summary>Whether the last message was binary.</summary>
    public bool IsBinary { get; private set; }

    /// <summary>
    /// Reads until a message is complete or the connection says something else. Data that arrives
    /// while <c>tryRead</c> answers false (reading has stopped) is dropped.
    /// </summary>
    /// <exception cref="WebSocketException">The client vanished or broke the protocol.</exception>
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
                var memory = atBoundary && !_streaming ? Memory<byte>.Empty : buffer.GetReceiveMemory();
                var receive = socket.ReceiveAsync(memory, CancellationToken.None);
                if (atBoundary)
                {
                    _streaming = receive.IsCompleted;
                    atBoundary = false;
                }

                result = await receive;
            }
            catch (WebSocketException e) when (e.WebSocketErrorCode == WebSocketError.Faulted)
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

                throw;
            }

            if (result.MessageType == WebSocketMessageType.Close)
            {
                return ReadOutcome.Closed;
            }

            if (!tryRead())
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
}
