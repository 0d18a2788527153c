using System.IO.Pipelines;
using System.Net.WebSockets;
using System.Text;
using Ingest.Gateway.WebSockets;

namespace Ingest.UnitTests.WebSockets;

/// <summary>The stream a taken-over connection's WebSocket runs over (<see cref="ConnectionTakeover"/>).</summary>
public sealed class DuplexPipeStreamTests
{
    private readonly Pipe _toServer = new();
    private readonly Pipe _toClient = new();

    private DuplexPipeStream Stream() => new(new Transport(_toServer.Reader, _toClient.Writer));

    [Fact]
    public async Task ZeroByteRead_WaitsForData_AndTakesNoneOfIt()
    {
        using var stream = Stream();
        var wait = stream.ReadAsync(Memory<byte>.Empty, TestContext.Current.CancellationToken);
        Assert.False(wait.IsCompleted);

        await _toServer.Writer.WriteAsync("abc"u8.ToArray(), TestContext.Current.CancellationToken);
        Assert.Equal(0, await wait);

        var buffer = new byte[2];
        Assert.Equal(2, await stream.ReadAsync(buffer, TestContext.Current.CancellationToken));
        Assert.Equal("ab"u8.ToArray(), buffer);
        Assert.Equal(1, await stream.ReadAsync(buffer, TestContext.Current.CancellationToken));
        Assert.Equal((byte)'c', buffer[0]);
    }

    [Fact]
    public async Task Read_ReturnsZeroOnceThePeerCompleted()
    {
        using var stream = Stream();
        await _toServer.Writer.CompleteAsync();
        Assert.Equal(0, await stream.ReadAsync(new byte[4], TestContext.Current.CancellationToken));
    }

    [Fact]
    public async Task Dispose_EndsAPendingRead_AndLaterReadsAndWrites()
    {
        var stream = Stream();
        var pending = stream.ReadAsync(new byte[4], TestContext.Current.CancellationToken).AsTask();
        Assert.False(pending.IsCompleted);

        await stream.DisposeAsync();

        await Assert.ThrowsAsync<ObjectDisposedException>(() => pending);
        await Assert.ThrowsAsync<ObjectDisposedException>(async () => _ = await stream.ReadAsync(new byte[4], TestContext.Current.CancellationToken));
        await Assert.ThrowsAsync<ObjectDisposedException>(async () => await stream.WriteAsync(new byte[4], TestContext.Current.CancellationToken));
    }

    [Fact]
    public async Task Write_ReachesThePeer()
    {
        using var stream = Stream();
        await stream.WriteAsync("hello"u8.ToArray(), TestContext.Current.CancellationToken);
        var result = await _toClient.Reader.ReadAsync(TestContext.Current.CancellationToken);
        Assert.Equal("hello", Encoding.ASCII.GetString(result.Buffer));
    }

    [Fact]
    public async Task AWebSocketOverIt_ReceivesAFragmentedMessage_AndAnswersAClose()
    {
        using var server = WebSocket.CreateFromStream(Stream(), new WebSocketCreationOptions { IsServer = true });
        using var client = WebSocket.CreateFromStream(new DuplexPipeStream(new Transport(_toClient.Reader, _toServer.Writer)), new WebSocketCreationOptions());
        var ct = TestContext.Current.CancellationToken;

        await client.SendAsync("{\"msg\":"u8.ToArray(), WebSocketMessageType.Text, endOfMessage: false, ct);
        await client.SendAsync("1}"u8.ToArray(), WebSocketMessageType.Text, endOfMessage: true, ct);
        var buffer = new byte[64];
        var received = 0;
        ValueWebSocketReceiveResult result;
        do
        {
            result = await server.ReceiveAsync(buffer.AsMemory(received), ct);
            received += result.Count;
        }
        while (!result.EndOfMessage);
        Assert.Equal("{\"msg\":1}", Encoding.UTF8.GetString(buffer, 0, received));

        await client.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, "bye", ct);
        var close = await server.ReceiveAsync(buffer.AsMemory(), ct);
        Assert.Equal(WebSocketMessageType.Close, close.MessageType);
        Assert.Equal("bye", server.CloseStatusDescription);
        await server.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, "", ct);
        Assert.Equal(WebSocketMessageType.Close, (await client.ReceiveAsync(buffer.AsMemory(), ct)).MessageType);
        Assert.Equal(WebSocketState.Closed, client.State);
    }

    [Fact]
    public void AcceptKey_IsRfc6455sExample()
    {
        // RFC 6455 section 1.3.
        Assert.Equal("s3pPLMBiTxaQ9kYGzzhZRbK+xOo=", WebSocketIngestEndpoint.AcceptKey("dGhlIHNhbXBsZSBub25jZQ=="));
    }

    private sealed class Transport(PipeReader input, PipeWriter output) : IDuplexPipe
    {
        public PipeReader Input { get; } = input;

        public PipeWriter Output { get; } = output;
    }
}
