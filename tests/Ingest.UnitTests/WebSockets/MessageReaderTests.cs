using System.Net;
using System.Net.Sockets;
using System.Net.WebSockets;
using System.Text;
using Ingest.Gateway.Sessions;
using Ingest.Gateway.WebSockets;

namespace Ingest.UnitTests.WebSockets;

/// <summary>
/// The message reader on a real WebSocket pair over loopback TCP (RFC 6455 framing by .NET on both
/// sides), without the gateway: reassembly, the size limit, invalid UTF-8, and stopped reading.
/// </summary>
public sealed class MessageReaderTests : IAsyncLifetime
{
    private const int Limit = 64;

    private WebSocket _server = null!;
    private WebSocket _client = null!;
    private readonly ReadGate _gate = new(TimeProvider.System);
    private MessageReader _reader = null!;

    public async ValueTask InitializeAsync()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var client = new TcpClient();
        var accept = listener.AcceptTcpClientAsync(TestContext.Current.CancellationToken);
        await client.ConnectAsync((IPEndPoint)listener.LocalEndpoint, TestContext.Current.CancellationToken);
        var server = await accept;
        _server = WebSocket.CreateFromStream(server.GetStream(), new WebSocketCreationOptions { IsServer = true });
        _client = WebSocket.CreateFromStream(client.GetStream(), new WebSocketCreationOptions { IsServer = false });
        _reader = new MessageReader(_server, new MessageBuffer(initialSize: 16, maxSize: Limit), _gate, () => Task.CompletedTask);
    }

    public ValueTask DisposeAsync()
    {
        _reader.Dispose();
        _server.Dispose();
        _client.Dispose();
        return ValueTask.CompletedTask;
    }

    [Fact]
    public async Task FragmentedText_IsReassembledIntoOneMessage()
    {
        await SendAsync("{\"msg\":"u8.ToArray(), endOfMessage: false);
        await SendAsync("\"x\"}"u8.ToArray(), endOfMessage: true);

        Assert.Equal(ReadOutcome.Message, await _reader.ReadAsync());
        Assert.Equal("{\"msg\":\"x\"}", Encoding.UTF8.GetString(_reader.Message.Span));
        Assert.False(_reader.IsBinary);
    }

    [Fact]
    public async Task MessagesInARow_EachReadWhole_AfterRelease()
    {
        await SendAsync("first"u8.ToArray(), endOfMessage: true);
        await SendAsync("second"u8.ToArray(), endOfMessage: true, WebSocketMessageType.Binary);

        Assert.Equal(ReadOutcome.Message, await _reader.ReadAsync());
        Assert.Equal("first", Encoding.UTF8.GetString(_reader.Message.Span));
        _reader.Release();
        Assert.Equal(ReadOutcome.Message, await _reader.ReadAsync());
        Assert.Equal("second", Encoding.UTF8.GetString(_reader.Message.Span));
        Assert.True(_reader.IsBinary);
    }

    [Fact]
    public async Task MessageOfExactlyTheLimit_IsAMessage()
    {
        await SendAsync(Enumerable.Repeat((byte)'a', Limit).ToArray(), endOfMessage: true);

        Assert.Equal(ReadOutcome.Message, await _reader.ReadAsync());
        Assert.Equal(Limit, _reader.Message.Length);
    }

    [Fact]
    public async Task OneByteOverTheLimit_IsTooLarge_WithItsFirstLimitBytes()
    {
        var payload = Enumerable.Range(0, Limit + 1).Select(i => (byte)('a' + (i % 26))).ToArray();
        await SendAsync(payload, endOfMessage: true);

        Assert.Equal(ReadOutcome.TooLarge, await _reader.ReadAsync());
        Assert.Equal(payload[..Limit], _reader.Message.ToArray());
    }

    [Fact]
    public async Task InvalidUtf8_IsReportedWithWhatWasReceived()
    {
        byte[] invalid = [.. "{\"msg\":\""u8, 0xC3, 0x28, .. "\"}"u8];
        await SendAsync(invalid, endOfMessage: true);

        Assert.Equal(ReadOutcome.InvalidUtf8, await _reader.ReadAsync());
        Assert.Equal(invalid, _reader.Message.ToArray());
    }

    [Fact]
    public async Task WhileReadingIsStopped_DataIsDropped_UntilTheClientCloses()
    {
        _gate.Stop();
        await SendAsync("dropped"u8.ToArray(), endOfMessage: true);
        await _client.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, "bye", TestContext.Current.CancellationToken);

        Assert.Equal(ReadOutcome.Closed, await _reader.ReadAsync());
        Assert.Equal(0, _reader.Message.Length);
    }

    [Fact]
    public async Task ClientCloseBetweenMessages_IsClosed()
    {
        await _client.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, "", TestContext.Current.CancellationToken);

        Assert.Equal(ReadOutcome.Closed, await _reader.ReadAsync());
    }

    private Task SendAsync(byte[] payload, bool endOfMessage, WebSocketMessageType type = WebSocketMessageType.Text) =>
        _client.SendAsync(payload, type, endOfMessage, TestContext.Current.CancellationToken);
}
