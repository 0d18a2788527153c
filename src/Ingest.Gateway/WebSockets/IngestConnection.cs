using System.Net.WebSockets;
using System.Threading.Channels;
using Ingest.Gateway.Diagnostics;
using Ingest.Gateway.Sessions;

namespace Ingest.Gateway.WebSockets;

/// <summary>
/// One client's WebSocket: a <see cref="MessageReader"/> feeds whole messages to the connection's
/// <see cref="IngestSession"/> (the wire contract), and one <see cref="FrameWriter"/> sends what
/// the session queues. Reading waits while the channel is full: that is the backpressure.
/// </summary>
internal sealed partial class IngestConnection : IDisposable
{
    private const int InitialBufferSize = 4 * 1024;

    private readonly IngestSession _session;
    private readonly MessageReader _reader;
    private readonly FrameWriter _writer;
    private readonly ILogger _logger;
    private readonly int _maxMessageBytes;

    public IngestConnection(WebSocket socket, IngestSession session, SessionContext context)
    {
        _session = session;
        _maxMessageBytes = context.MaxMessageBytes;
        _writer = new FrameWriter(socket, session, context.TimeProvider, context.SendTimeout, context.Logger);
        _reader = new MessageReader(socket, new MessageBuffer(InitialBufferSize, context.MaxMessageBytes, context.Reassembly), session.Reading, () => _writer.CloseSent);
        _logger = context.Logger;
    }

    /// <summary>Data messages received on this connection.</summary>
    public long MessagesReceived => _session.MessagesReceived;

    /// <summary>Serves the connection until it closes; <paramref name="stopping"/> starts a drain.</summary>
    /// <remarks>
    /// The read loop is written out here rather than awaited as a method of its own: every pending
    /// async method holds its state for as long as the connection is idle.
    /// </remarks>
    public async Task RunAsync(CancellationToken stopping)
    {
        var writing = _writer.RunAsync();
        var registration = stopping.UnsafeRegister(static state => ((IngestSession)state!).BeginDrain(), _session);
        try
        {
            while (true)
            {
                // A client that does not read its acks is read no further until they go out.
                await _session.WaitForAckRoomAsync();
                switch (await _reader.ReadAsync())
                {
                    case ReadOutcome.Message:
                        await _session.OnMessageAsync(_reader.Message, _reader.IsBinary);
                        _reader.Release();
                        break;
                    case ReadOutcome.TooLarge:
                        // Reading stops; what follows is dropped until the client answers the close.
                        await _session.OnMessageTooLargeAsync(_reader.Message, _maxMessageBytes);
                        _reader.Release();
                        break;
                    case ReadOutcome.InvalidUtf8 when !_reader.LayerClosed:
                        // Found by the reader: the gateway closes (1007), and reads on until the client answers.
                        await _session.OnInvalidUtf8Async(_reader.Message, closeItself: true);
                        _reader.Release();
                        break;
                    case ReadOutcome.InvalidUtf8:
                        await _session.OnInvalidUtf8Async(_reader.Message);
                        _reader.Release();
                        await _writer.HoldForClientCloseAsync(stopping);
                        return;
                    case ReadOutcome.ProtocolError:
                        await _session.OnProtocolErrorAsync(_reader.Message, _reader.ProtocolErrorReason);
                        _reader.Release();
                        await _writer.HoldForClientCloseAsync(stopping);
                        return;
                    case ReadOutcome.Closed:
                        await _session.OnClientCloseAsync();
                        return;
                    case ReadOutcome.Shut:
                        // Closed for abuse: its data is left unread, and the TCP connection goes after the close handshake's time.
                        await _writer.HoldForClientCloseAsync(stopping);
                        return;
                }
            }
        }
        catch (Exception e) when (e is WebSocketException or IOException or OperationCanceledException or ObjectDisposedException or ChannelClosedException)
        {
            // The client vanished, broke the protocol, or the close handshake timed out: what was read
            // still goes to Kafka; acks for it can no longer be delivered, so the client resends.
            Log.ConnectionLost(_logger, _session.ConnectionId, e.Message);
            _session.OnConnectionLost();
        }
        finally
        {
            await registration.DisposeAsync();
            await _session.Completion.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            await writing.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }
    }

    public void Dispose()
    {
        _writer.Dispose();
        _reader.Dispose();
    }

    private static partial class Log
    {
        [LoggerMessage(EventIds.ConnectionFailed, LogLevel.Debug, "Connection {ConnectionId} lost: {Reason}")]
        public static partial void ConnectionLost(ILogger logger, string connectionId, string reason);
    }
}
