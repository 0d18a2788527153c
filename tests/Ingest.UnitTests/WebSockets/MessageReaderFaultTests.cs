using System.Net.WebSockets;
using Ingest.Gateway.Sessions;
using Ingest.Gateway.WebSockets;

namespace Ingest.UnitTests.WebSockets;

/// <summary>
/// The reader against raw client frames (RFC 6455, masked with a zero key) that no well-behaved
/// client sends: faults of the WebSocket layer and the corners of the size limit. Found by the
/// frame fuzz test.
/// </summary>
public sealed class MessageReaderFaultTests
{
    private const int Limit = 64;

    [Fact]
    public async Task InvalidUtf8InTheByteReadPastTheLimit_IsInvalidUtf8_WithWhatWasReceived()
    {
        // A 65-byte text message: 64 valid bytes, then 0xFF, which only the probe read sees.
        var reader = Reader(Frame(0x81, [.. Enumerable.Repeat((byte)'a', Limit), 0xFF]));

        Assert.Equal(ReadOutcome.InvalidUtf8, await reader.ReadAsync());
        Assert.True(reader.LayerClosed);
        Assert.Equal(Limit, reader.Message.Length);
    }

    [Fact]
    public async Task ProtocolErrorInTheFrameReadPastTheLimit_IsAProtocolError()
    {
        // A non-final text frame of exactly the limit, then a frame with a reserved opcode.
        var reader = Reader([.. Frame(0x01, [.. Enumerable.Repeat((byte)'a', Limit)]), .. Frame(0x83, [])]);

        Assert.Equal(ReadOutcome.ProtocolError, await reader.ReadAsync());
        Assert.Equal(Limit, reader.Message.Length);
    }

    [Fact]
    public async Task MessageOfExactlyTheLimit_FollowedByEmptyFrames_IsAWholeMessage()
    {
        var reader = Reader([.. Frame(0x01, [.. Enumerable.Repeat((byte)'a', Limit)]), .. Frame(0x00, []), .. Frame(0x00, []), .. Frame(0x80, [])]);

        Assert.Equal(ReadOutcome.Message, await reader.ReadAsync());
        Assert.Equal(Limit, reader.Message.Length);
    }

    [Fact]
    public async Task TextEndingInsideACharacter_ThroughAnEmptyLastFrame_IsInvalidUtf8_FoundByTheReader()
    {
        // The layer checks the end of a text message only on a non-empty last frame.
        var reader = Reader([.. Frame(0x01, [(byte)'{', 0xC3]), .. Frame(0x80, [])]);

        Assert.Equal(ReadOutcome.InvalidUtf8, await reader.ReadAsync());
        Assert.False(reader.LayerClosed); // the gateway must close, the layer did not
        Assert.Equal(new byte[] { (byte)'{', 0xC3 }, reader.Message.ToArray());
    }

    [Fact]
    public async Task BinaryMessage_ThenABrokenCloseFrame_IsAProtocolError_NotInvalidUtf8()
    {
        var reader = Reader([.. Frame(0x02, [0xFF]), .. Frame(0x88, [0, 0])]);

        Assert.Equal(ReadOutcome.ProtocolError, await reader.ReadAsync());
    }

    [Fact]
    public async Task ValidText_ThenABrokenCloseFrame_IsAProtocolError_NotInvalidUtf8()
    {
        var reader = Reader([.. Frame(0x01, [(byte)'{']), .. Frame(0x88, [0, 0])]);

        Assert.Equal(ReadOutcome.ProtocolError, await reader.ReadAsync());
    }

    [Fact]
    public async Task FaultBetweenMessages_IsALostConnection()
    {
        var reader = Reader(Frame(0x83, []));

        await Assert.ThrowsAsync<WebSocketException>(async () => await reader.ReadAsync());
    }

    private static MessageReader Reader(byte[] input)
    {
        var socket = WebSocket.CreateFromStream(new ScriptedInput(input), new WebSocketCreationOptions { IsServer = true });
        return new MessageReader(socket, new MessageBuffer(initialSize: 16, maxSize: Limit), new ReadGate(TimeProvider.System), () => Task.CompletedTask);
    }

    /// <summary>A client frame: FIN/RSV/opcode byte, then the masked payload with a zero key.</summary>
    private static byte[] Frame(byte first, byte[] payload)
    {
        byte[] header = payload.Length < 126 ? [first, (byte)(0x80 | payload.Length)] : [first, 0x80 | 126, (byte)(payload.Length >> 8), (byte)payload.Length];
        return [.. header, 0, 0, 0, 0, .. payload];
    }

    /// <summary>A stream that serves <paramref name="input"/> and swallows what is written.</summary>
    private sealed class ScriptedInput(byte[] input) : Stream
    {
        private int _position;

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => true;

        public override long Length => input.Length;

        public override long Position { get => _position; set => throw new NotSupportedException(); }

        public override void Flush()
        {
        }

        public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

        public override int Read(Span<byte> buffer)
        {
            var count = Math.Min(buffer.Length, input.Length - _position);
            input.AsSpan(_position, count).CopyTo(buffer);
            _position += count;
            return count;
        }

        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) => ValueTask.FromResult(Read(buffer.Span));

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count)
        {
        }

        public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default) => ValueTask.CompletedTask;
    }
}
