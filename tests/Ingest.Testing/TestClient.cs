using System.Net.WebSockets;
using System.Text;
using System.Text.Json;

namespace Ingest.Testing;

/// <summary>A frame the gateway sent, parsed.</summary>
internal sealed record ServerFrame(string Type, long UpTo, long Seq, string? Code, string? Message, int ReconnectAfterMs, string Raw);

/// <summary>
/// A WebSocket client for tests: sends text/binary messages (optionally fragmented) and records
/// every frame the gateway sends, in order, with waits that end as soon as a condition holds.
/// </summary>
internal sealed class TestClient : IAsyncDisposable
{
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(30);

    private readonly ClientWebSocket _socket;
    private readonly List<ServerFrame> _frames = [];
    private readonly ChangeSignal _signal = new();
    private readonly Task _receiveLoop;

    private TestClient(ClientWebSocket socket)
    {
        _socket = socket;
        _receiveLoop = Task.Run(ReceiveLoopAsync);
    }

    public long Sent { get; private set; }

    public WebSocketCloseStatus? CloseStatus { get; private set; }

    public string? CloseDescription { get; private set; }

    public bool IsClosed { get; private set; }

    public static async Task<TestClient> ConnectAsync(Uri uri, Action<ClientWebSocketOptions>? configure = null)
    {
        var socket = new ClientWebSocket();
        socket.Options.KeepAliveInterval = TimeSpan.Zero;
        configure?.Invoke(socket.Options);
        using var timeout = new CancellationTokenSource(DefaultTimeout);
        await socket.ConnectAsync(uri, timeout.Token);
        return new TestClient(socket);
    }

    public IReadOnlyList<ServerFrame> Frames
    {
        get
        {
            lock (_signal.Gate)
            {
                return _frames.ToArray();
            }
        }
    }

    public IReadOnlyList<ServerFrame> Errors => Frames.Where(f => f.Type == "error").ToArray();

    public long AckedUpTo => Frames.Where(f => f.Type == "ack").Select(f => f.UpTo).DefaultIfEmpty(0).Max();

    public Task SendAsync(string text, int fragmentSize = int.MaxValue) =>
        SendAsync(Encoding.UTF8.GetBytes(text), WebSocketMessageType.Text, fragmentSize);

    /// <summary>Sends one message, split into frames of at most <paramref name="fragmentSize"/> bytes.</summary>
    public async Task SendAsync(byte[] payload, WebSocketMessageType type, int fragmentSize = int.MaxValue)
    {
        var offset = 0;
        do
        {
            var size = Math.Min(fragmentSize, payload.Length - offset);
            var last = offset + size == payload.Length;
            await _socket.SendAsync(payload.AsMemory(offset, size), type, last, CancellationToken.None);
            offset += size;
        }
        while (offset < payload.Length);
        Sent++;
    }

    /// <summary>Sends, then waits for the ack covering this message; returns its number.</summary>
    public async Task<long> SendAndWaitAckAsync(string text)
    {
        await SendAsync(text);
        var sequence = Sent;
        await WaitForAckAsync(sequence);
        return sequence;
    }

    public Task WaitForAckAsync(long upTo, TimeSpan? timeout = null) =>
        WaitUntilAsync(() => AckedUpTo >= upTo, $"ack up to {upTo}", timeout);

    public async Task<ServerFrame> WaitForErrorAsync(long sequence, TimeSpan? timeout = null)
    {
        await WaitUntilAsync(() => Errors.Any(e => e.Seq == sequence), $"error for message {sequence}", timeout);
        return Errors.Single(e => e.Seq == sequence);
    }

    public Task WaitForCloseAsync(TimeSpan? timeout = null) => WaitUntilAsync(() => IsClosed, "close", timeout);

    /// <summary>Waits until <paramref name="condition"/> holds, re-checking after every frame.</summary>
    public Task WaitUntilAsync(Func<bool> condition, string what, TimeSpan? timeout = null) =>
        _signal.WaitUntilAsync(
            condition,
            what,
            timeout ?? DefaultTimeout,
            () => IsClosed ? $"Connection closed ({CloseStatus} {CloseDescription})" : null,
            () => $"last frames: {string.Join(' ', Frames.TakeLast(5).Select(f => f.Raw))}");

    /// <summary>Starts the close handshake and waits for the gateway's close frame.</summary>
    public async Task CloseAsync()
    {
        await _socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, "done", CancellationToken.None);
        await WaitForCloseAsync();
    }

    public void Abort() => _socket.Abort();

    private async Task ReceiveLoopAsync()
    {
        var buffer = new byte[64 * 1024];
        using var message = new MemoryStream();
        try
        {
            while (true)
            {
                var result = await _socket.ReceiveAsync(buffer, CancellationToken.None);
                if (result.MessageType == WebSocketMessageType.Close)
                {
                    CloseStatus = result.CloseStatus;
                    CloseDescription = result.CloseStatusDescription;
                    if (_socket.State == WebSocketState.CloseReceived)
                    {
                        await _socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, "", CancellationToken.None);
                    }

                    break;
                }

                message.Write(buffer, 0, result.Count);
                if (!result.EndOfMessage)
                {
                    continue;
                }

                var frame = Parse(Encoding.UTF8.GetString(message.GetBuffer(), 0, (int)message.Length));
                message.SetLength(0);
                _signal.Publish(() => _frames.Add(frame));
            }
        }
        catch (Exception e) when (e is WebSocketException or IOException or ObjectDisposedException or OperationCanceledException)
        {
            CloseStatus ??= _socket.CloseStatus;
        }
        finally
        {
            _signal.Publish(() => IsClosed = true);
        }
    }

    private static ServerFrame Parse(string raw)
    {
        using var document = JsonDocument.Parse(raw);
        var root = document.RootElement;
        long Number(string name) => root.TryGetProperty(name, out var value) ? value.GetInt64() : 0;
        string? Text(string name) => root.TryGetProperty(name, out var value) ? value.GetString() : null;
        return new ServerFrame(Text("type")!, Number("upTo"), Number("seq"), Text("code"), Text("message"), (int)Number("reconnectAfterMs"), raw);
    }

    public async ValueTask DisposeAsync()
    {
        if (!IsClosed)
        {
            _socket.Abort();
        }

        await _receiveLoop;
        _socket.Dispose();
    }
}
