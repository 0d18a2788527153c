using System.Net.WebSockets;
using System.Text;
using Ingest.Contracts;

namespace Ingest.Testing;

/// <summary>
/// A WebSocket client for tests: sends text/binary messages (optionally fragmented) and records
/// every frame the gateway sends, in order, as the contract's <see cref="ServerFrame"/> (its text
/// too, for failure messages), with waits that end as soon as a condition holds. A frame that is not
/// one of the contract (<see cref="ServerFrameType.Unknown"/>) ends the receive loop with an error,
/// which <see cref="DisposeAsync"/> throws.
/// </summary>
internal sealed class TestClient : IAsyncDisposable
{
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(30);

    private readonly ClientWebSocket _socket;
    private readonly List<ServerFrame> _frames = [];
    private readonly List<string> _rawFrames = [];
    private readonly ChangeSignal _signal = new();
    private readonly Task _receiveLoop;
    private string? _failure;

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

    /// <summary>The HTTP status of a handshake (101 when it succeeded); a successful one is closed again at once.</summary>
    public static async Task<System.Net.HttpStatusCode> HandshakeStatusAsync(Uri uri, Action<ClientWebSocketOptions>? configure = null)
    {
        using var socket = new ClientWebSocket();
        socket.Options.CollectHttpResponseDetails = true;
        configure?.Invoke(socket.Options);
        try
        {
            await socket.ConnectAsync(uri, TestContext.Current.CancellationToken);
            await socket.CloseAsync(WebSocketCloseStatus.NormalClosure, "", TestContext.Current.CancellationToken);
        }
        catch (WebSocketException)
        {
            // Refused handshakes end here; the status code tells why.
        }

        return socket.HttpStatusCode;
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

    /// <summary>The text of every frame in <see cref="Frames"/>, in the same order.</summary>
    public IReadOnlyList<string> RawFrames
    {
        get
        {
            lock (_signal.Gate)
            {
                return _rawFrames.ToArray();
            }
        }
    }

    public IReadOnlyList<ServerFrame> Errors => Frames.Where(f => f.Type == ServerFrameType.Error).ToArray();

    public long AckedUpTo => Frames.Where(f => f.Type == ServerFrameType.Ack).Select(f => f.UpTo).DefaultIfEmpty(0).Max();

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
            () => IsClosed ? $"Connection closed ({_failure ?? $"{CloseStatus} {CloseDescription}"})" : null,
            () => $"last frames: {string.Join(' ', RawFrames.TakeLast(5))}");

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

                var bytes = message.GetBuffer().AsSpan(0, (int)message.Length);
                var frame = ServerFrame.Parse(bytes);
                var raw = Encoding.UTF8.GetString(bytes);
                message.SetLength(0);
                if (frame.Type == ServerFrameType.Unknown)
                {
                    _failure = $"the gateway sent a frame that is not one of the contract: {raw}";
                    throw new InvalidDataException(_failure);
                }

                _signal.Publish(() =>
                {
                    _frames.Add(frame);
                    _rawFrames.Add(raw);
                });
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
