using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;

namespace Ingest.Testing;

/// <summary>WebSocket opcodes (RFC 6455 section 5.2); any other value may be sent too, to break the protocol.</summary>
internal static class Opcode
{
    public const int Continuation = 0x0;
    public const int Text = 0x1;
    public const int Binary = 0x2;
    public const int Close = 0x8;
    public const int Ping = 0x9;
    public const int Pong = 0xA;
}

/// <summary>The server's answer to the request that opened the connection: the status, the headers (names lower case) and the body of a refusal.</summary>
internal sealed record HttpHead(int Status, IReadOnlyDictionary<string, string> Headers, string Body)
{
    public string? Header(string name) => Headers.GetValueOrDefault(name.ToLowerInvariant());
}

/// <summary>One frame from the server, unmasked as servers send them.</summary>
internal sealed record RawFrame(bool Fin, int Opcode, byte[] Payload)
{
    public string Text => Encoding.UTF8.GetString(Payload);

    /// <summary>The status of a close frame (1005 when it carries none).</summary>
    public int CloseStatus => Payload.Length >= 2 ? BinaryPrimitives.ReadUInt16BigEndian(Payload) : 1005;

    public string CloseReason => Payload.Length > 2 ? Encoding.UTF8.GetString(Payload.AsSpan(2)) : "";
}

/// <summary>How the server ended the TCP connection.</summary>
internal enum ConnectionEnd
{
    /// <summary>An orderly end of stream (FIN).</summary>
    Fin,

    /// <summary>A reset (RST), as when a socket is closed with unread data or aborted.</summary>
    Reset,
}

/// <summary>Every frame the server sent until it ended the connection (or until its close frame), and how it ended it.</summary>
internal sealed record RawTranscript(IReadOnlyList<RawFrame> Frames, ConnectionEnd? End)
{
    public RawFrame? Close => Frames.LastOrDefault(f => f.Opcode == Ingest.Testing.Opcode.Close);

    /// <summary>The text frames, in order.</summary>
    public IReadOnlyList<string> Texts => Frames.Where(f => f.Opcode == Ingest.Testing.Opcode.Text).Select(f => f.Text).ToArray();
}

/// <summary>
/// The client side of RFC 6455 over a plain <see cref="Socket"/>, for tests that need what
/// <c>ClientWebSocket</c> will not do: a request the test writes (another WebSocket version, any
/// headers), frames of any opcode, FIN bit, RSV bits or masking (so it can break the protocol), a
/// tiny receive buffer and no reading at all (so the server's sends block in TCP), and the TCP end
/// itself (FIN or RST). Nothing is read unless the test asks: a client that never reads is one that
/// does not call <see cref="ReceiveFrameAsync"/> or <see cref="ReadUntilEndAsync"/>.
/// </summary>
internal sealed class RawWebSocketClient : IDisposable
{
    private readonly Socket _socket;
    private readonly byte[] _buffer = new byte[64 * 1024];
    private int _start;
    private int _end;

    private RawWebSocketClient(Socket socket) => _socket = socket;

    /// <summary>The response to the opening request (101 when the connection was upgraded).</summary>
    public HttpHead Response { get; private set; } = new(0, new Dictionary<string, string>(), "");

    public Socket Socket => _socket;

    /// <summary>How the server ended the connection, once a read saw it.</summary>
    public ConnectionEnd? EndedBy { get; private set; }

    /// <summary>
    /// Connects to <paramref name="gateway"/>'s port on 127.0.0.1 and, unless <paramref name="request"/>
    /// is false, sends a WebSocket upgrade for <paramref name="path"/> in <paramref name="version"/>
    /// with <paramref name="headers"/>, and reads the response (a refusal's body too).
    /// <paramref name="receiveBufferSize"/> is set before connecting, so that the TCP window stays small.
    /// </summary>
    public static async Task<RawWebSocketClient> ConnectAsync(
        Uri gateway,
        string path = "/ws",
        string version = "13",
        IEnumerable<KeyValuePair<string, string>>? headers = null,
        int? receiveBufferSize = null,
        bool request = true)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        if (receiveBufferSize is { } size)
        {
            socket.ReceiveBufferSize = size;
        }

        var client = new RawWebSocketClient(socket);
        try
        {
            await socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, gateway.Port), TestContext.Current.CancellationToken);
            if (request)
            {
                await client.SendRawAsync(UpgradeRequest(gateway, path, version, headers));
                await client.ReadHandshakeResponseAsync();
            }

            return client;
        }
        catch
        {
            client.Dispose();
            throw;
        }
    }

    /// <summary>A WebSocket upgrade request for <paramref name="path"/> on <paramref name="gateway"/>'s port, with a fresh key.</summary>
    public static byte[] UpgradeRequest(Uri gateway, string path = "/ws", string version = "13", IEnumerable<KeyValuePair<string, string>>? headers = null)
    {
        var text = new StringBuilder($"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{gateway.Port}\r\n");
        text.Append("Upgrade: websocket\r\nConnection: Upgrade\r\n");
        text.Append($"Sec-WebSocket-Key: {Convert.ToBase64String(RandomNumberGenerator.GetBytes(16))}\r\n");
        text.Append($"Sec-WebSocket-Version: {version}\r\n");
        foreach (var (name, value) in headers ?? [])
        {
            text.Append($"{name}: {value}\r\n");
        }

        return Encoding.ASCII.GetBytes(text.Append("\r\n").ToString());
    }

    /// <summary>Reads the answer to an upgrade request sent raw into <see cref="Response"/>.</summary>
    public async Task ReadHandshakeResponseAsync() => Response = await ReadResponseAsync();

    /// <summary>Sends bytes as they are (a request line, half of one, anything).</summary>
    public async Task SendRawAsync(ReadOnlyMemory<byte> bytes)
    {
        while (!bytes.IsEmpty)
        {
            var sent = await _socket.SendAsync(bytes, SocketFlags.None, TestContext.Current.CancellationToken);
            bytes = bytes[sent..];
        }
    }

    /// <summary>
    /// Sends one frame. A client must mask (<paramref name="mask"/>), set no RSV bits without an
    /// extension (<paramref name="rsv"/>, 0 to 7) and use a known <paramref name="opcode"/>:
    /// anything else breaks the protocol on purpose.
    /// </summary>
    public Task SendFrameAsync(int opcode, ReadOnlyMemory<byte> payload, bool fin = true, bool mask = true, int rsv = 0) =>
        SendRawAsync(EncodeFrame(opcode, payload, fin, mask, rsv));

    /// <summary>The bytes of one frame, as <see cref="SendFrameAsync"/> sends it.</summary>
    public static byte[] EncodeFrame(int opcode, ReadOnlyMemory<byte> payload, bool fin = true, bool mask = true, int rsv = 0)
    {
        var length = payload.Length;
        var header = length < 126 ? 2 : length <= ushort.MaxValue ? 4 : 10;
        var frame = new byte[header + (mask ? 4 : 0) + length];
        frame[0] = (byte)((fin ? 0x80 : 0) | ((rsv & 7) << 4) | (opcode & 0xF));
        var maskBit = mask ? 0x80 : 0;
        if (header == 2)
        {
            frame[1] = (byte)(maskBit | length);
        }
        else if (header == 4)
        {
            frame[1] = (byte)(maskBit | 126);
            BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(2), (ushort)length);
        }
        else
        {
            frame[1] = (byte)(maskBit | 127);
            BinaryPrimitives.WriteUInt64BigEndian(frame.AsSpan(2), (ulong)length);
        }

        var body = frame.AsSpan(header + (mask ? 4 : 0));
        payload.Span.CopyTo(body);
        if (mask)
        {
            var key = frame.AsSpan(header, 4);
            RandomNumberGenerator.Fill(key);
            for (var i = 0; i < body.Length; i++)
            {
                body[i] ^= key[i & 3];
            }
        }

        return frame;
    }

    /// <summary>One whole text message in one masked frame.</summary>
    public Task SendTextAsync(string text) => SendFrameAsync(Opcode.Text, Encoding.UTF8.GetBytes(text));

    /// <summary>Sends a close frame with <paramref name="status"/>.</summary>
    public Task SendCloseAsync(int status = 1000, string reason = "")
    {
        var payload = new byte[2 + Encoding.UTF8.GetByteCount(reason)];
        BinaryPrimitives.WriteUInt16BigEndian(payload, (ushort)status);
        Encoding.UTF8.GetBytes(reason, payload.AsSpan(2));
        return SendFrameAsync(Opcode.Close, payload);
    }

    /// <summary>The next frame from the server; null once the server ended the connection (FIN or RST).</summary>
    public async Task<RawFrame?> ReceiveFrameAsync(CancellationToken cancellationToken = default)
    {
        try
        {
            if (!await FillAsync(2, cancellationToken))
            {
                return null;
            }

            var first = _buffer[_start];
            var second = _buffer[_start + 1];
            var header = 2 + ((second & 0x7F) switch { 126 => 2, 127 => 8, _ => 0 }) + ((second & 0x80) != 0 ? 4 : 0);
            if (!await FillAsync(header, cancellationToken))
            {
                return null;
            }

            var length = (long)(second & 0x7F) switch
            {
                126 => BinaryPrimitives.ReadUInt16BigEndian(_buffer.AsSpan(_start + 2)),
                127 => (long)BinaryPrimitives.ReadUInt64BigEndian(_buffer.AsSpan(_start + 2)),
                var small => small,
            };
            _start += header; // servers do not mask; a mask key, if any, is skipped
            var payload = new byte[length];
            for (var copied = 0; copied < length;)
            {
                if (!await FillAsync(1, cancellationToken))
                {
                    return null;
                }

                var chunk = (int)Math.Min(length - copied, _end - _start);
                _buffer.AsSpan(_start, chunk).CopyTo(payload.AsSpan(copied));
                _start += chunk;
                copied += chunk;
            }

            return new RawFrame((first & 0x80) != 0, first & 0x0F, payload);
        }
        catch (SocketException e) when (e.SocketErrorCode == SocketError.ConnectionReset)
        {
            EndedBy = ConnectionEnd.Reset;
            return null;
        }
    }

    /// <summary>
    /// Reads every frame until the server ends the TCP connection, answering its close frame with
    /// one of our own (as a client should, so that the server closes cleanly); fails after
    /// <paramref name="timeout"/>.
    /// </summary>
    public Task<RawTranscript> ReadUntilEndAsync(TimeSpan timeout, bool answerClose = true) => ReadAsync(timeout, answerClose, untilClose: false);

    /// <summary>Reads every frame up to the server's close frame, and answers it; fails after <paramref name="timeout"/>.</summary>
    public Task<RawTranscript> ReadUntilCloseAsync(TimeSpan timeout) => ReadAsync(timeout, answerClose: true, untilClose: true);

    /// <summary>
    /// Reads (and keeps) frames for <paramref name="duration"/>: true if the server ended the
    /// connection meanwhile. For proving that it does not.
    /// </summary>
    public async Task<bool> EndsWithinAsync(TimeSpan duration)
    {
        try
        {
            await ReadUntilEndAsync(duration, answerClose: true);
            return true;
        }
        catch (TimeoutException)
        {
            return false;
        }
    }

    /// <summary>
    /// Reads and discards bytes (frames or not) until the server ends the connection: how it ended
    /// it and how many bytes came first; fails after <paramref name="timeout"/>.
    /// </summary>
    public async Task<(ConnectionEnd End, long Bytes)> DrainUntilEndAsync(TimeSpan timeout)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        deadline.CancelAfter(timeout);
        long bytes = _end - _start;
        _start = _end = 0;
        try
        {
            int read;
            while ((read = await _socket.ReceiveAsync(_buffer, SocketFlags.None, deadline.Token)) > 0)
            {
                bytes += read;
            }

            EndedBy ??= ConnectionEnd.Fin;
        }
        catch (SocketException e) when (e.SocketErrorCode == SocketError.ConnectionReset)
        {
            EndedBy = ConnectionEnd.Reset;
        }
        catch (OperationCanceledException) when (deadline.IsCancellationRequested && !TestContext.Current.CancellationToken.IsCancellationRequested)
        {
            throw new TimeoutException($"The server did not end the connection within {timeout.TotalSeconds:0.#} s ({bytes} bytes read)");
        }

        return (EndedBy.Value, bytes);
    }

    public void Dispose() => _socket.Dispose();

    private async Task<RawTranscript> ReadAsync(TimeSpan timeout, bool answerClose, bool untilClose)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        deadline.CancelAfter(timeout);
        var frames = new List<RawFrame>();
        try
        {
            while (await ReceiveFrameAsync(deadline.Token) is { } frame)
            {
                frames.Add(frame);
                if (frame.Opcode == Opcode.Close && answerClose)
                {
                    await SendCloseQuietlyAsync(frame.CloseStatus);
                }

                if (frame.Opcode == Opcode.Close && untilClose)
                {
                    return new RawTranscript(frames, EndedBy);
                }
            }
        }
        catch (OperationCanceledException) when (deadline.IsCancellationRequested && !TestContext.Current.CancellationToken.IsCancellationRequested)
        {
            throw new TimeoutException($"The server did not {(untilClose ? "close" : "end the connection")} within {timeout.TotalSeconds:0.#} s; frames so far: {Describe(frames)}");
        }

        return new RawTranscript(frames, EndedBy ?? ConnectionEnd.Fin);
    }

    private static string Describe(List<RawFrame> frames) =>
        string.Join(' ', frames.TakeLast(5).Select(f => f.Opcode == Opcode.Close ? $"close {f.CloseStatus} {f.CloseReason}" : $"[{f.Opcode}] {f.Text}"));

    private async Task SendCloseQuietlyAsync(int status)
    {
        try
        {
            await SendCloseAsync(status == 1005 ? 1000 : status);
        }
        catch (SocketException)
        {
            // The server may already be gone.
        }
    }

    /// <summary>Reads until <paramref name="count"/> bytes are buffered; false at the end of the stream.</summary>
    private async ValueTask<bool> FillAsync(int count, CancellationToken cancellationToken)
    {
        if (_end - _start >= count)
        {
            return true;
        }

        if (_buffer.Length - _start < count)
        {
            _buffer.AsSpan(_start, _end - _start).CopyTo(_buffer);
            (_start, _end) = (0, _end - _start);
        }

        while (_end - _start < count)
        {
            var read = await _socket.ReceiveAsync(_buffer.AsMemory(_end), SocketFlags.None, cancellationToken);
            if (read == 0)
            {
                EndedBy ??= ConnectionEnd.Fin;
                return false;
            }

            _end += read;
        }

        return true;
    }

    /// <summary>The status line and headers, and a body by Content-Length or chunked (a 101 has none).</summary>
    private async Task<HttpHead> ReadResponseAsync()
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        timeout.CancelAfter(TestClient.DefaultTimeout);
        var head = await ReadLineAsync(timeout.Token);
        var status = int.Parse(head.Split(' ')[1], System.Globalization.CultureInfo.InvariantCulture);
        var headers = new Dictionary<string, string>();
        for (var line = await ReadLineAsync(timeout.Token); line.Length > 0; line = await ReadLineAsync(timeout.Token))
        {
            var colon = line.IndexOf(':', StringComparison.Ordinal);
            headers[line[..colon].Trim().ToLowerInvariant()] = line[(colon + 1)..].Trim();
        }

        var body = new MemoryStream();
        if (status != 101)
        {
            if (headers.TryGetValue("content-length", out var length))
            {
                await ReadBodyAsync(body, int.Parse(length, System.Globalization.CultureInfo.InvariantCulture), timeout.Token);
            }
            else if (headers.GetValueOrDefault("transfer-encoding")?.Contains("chunked", StringComparison.OrdinalIgnoreCase) == true)
            {
                int chunk;
                while ((chunk = int.Parse((await ReadLineAsync(timeout.Token)).Split(';')[0], System.Globalization.NumberStyles.HexNumber, System.Globalization.CultureInfo.InvariantCulture)) > 0)
                {
                    await ReadBodyAsync(body, chunk, timeout.Token);
                    await ReadLineAsync(timeout.Token);
                }

                await ReadLineAsync(timeout.Token);
            }
        }

        return new HttpHead(status, headers, Encoding.UTF8.GetString(body.ToArray()));
    }

    private async Task ReadBodyAsync(MemoryStream body, int length, CancellationToken cancellationToken)
    {
        while (length > 0)
        {
            if (!await FillAsync(1, cancellationToken))
            {
                throw new EndOfStreamException("the response ended inside its body");
            }

            var chunk = Math.Min(length, _end - _start);
            body.Write(_buffer, _start, chunk);
            _start += chunk;
            length -= chunk;
        }
    }

    private async Task<string> ReadLineAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            var end = _buffer.AsSpan(_start, _end - _start).IndexOf("\r\n"u8);
            if (end >= 0)
            {
                var line = Encoding.ASCII.GetString(_buffer, _start, end);
                _start += end + 2;
                return line;
            }

            if (!await FillAsync(_end - _start + 1, cancellationToken))
            {
                throw new EndOfStreamException("the server ended the connection inside the response head");
            }
        }
    }
}
