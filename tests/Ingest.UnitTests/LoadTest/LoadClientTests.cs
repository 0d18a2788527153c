using System.Net;
using System.Net.Sockets;
using System.Net.WebSockets;
using System.Security.Cryptography;
using System.Text;
using Ingest.LoadTest.Engine;

namespace Ingest.UnitTests.LoadTest;

public sealed class LoadClientTests
{
    [Fact]
    public async Task SendAsync_SocketAbortedUnderAnUnfinishedSend_IsADisconnect_AndTheMessageIsResentAndAcked()
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        timeout.CancelAfter(TimeSpan.FromSeconds(60));
        var token = timeout.Token;
        using var server = LoopbackWebSocketServer.Start();
        var stats = new LoadStats();
        var client = new LoadClient(server.Uri, new LoadClientOptions { InitialBackoff = TimeSpan.FromMilliseconds(1), MaxBackoff = TimeSpan.FromMilliseconds(1) }, stats);
        // Far more than the client's send buffer (4 MiB at most by default on Linux) and the server's
        // 4 KB receive buffer hold: while the server does not read, this send cannot finish.
        var payload = Encoding.UTF8.GetBytes(new string('x', 32 * 1024 * 1024));
        Task<IReadOnlyList<int>> serving;
        try
        {
            var firstAccept = server.AcceptAsync(token);
            await client.StartAsync(token);
            using var first = await firstAccept;

            var send = client.SendAsync(payload, 1, 0, 0, token);
            Assert.False(send.IsCompleted, "the send should wait for the server to read");

            // The gateway closes the connection (as when it shuts down): the client's connection loop
            // aborts the socket under the unfinished send, which then fails with OperationCanceledException.
            var secondAccept = server.AcceptAsync(token);
            await first.CloseOutputAsync(WebSocketCloseStatus.EndpointUnavailable, "shutting down", token);
            await send;

            var second = await secondAccept;
            serving = ServeAsync(second, token);
            await client.WaitUntilDrainedAsync(token);
        }
        finally
        {
            await client.DisposeAsync();
        }

        Assert.Equal(new[] { payload.Length }, await serving);
        Assert.Equal(1, stats.ShutdownCloses);
        Assert.Equal(1, stats.Reconnects);
        Assert.Equal(1, stats.EventsSent);
        Assert.Equal(1, stats.EventsResent);
        Assert.Equal(1, stats.EventsAcked);
        Assert.Equal(0, client.PendingCount);
    }

    /// <summary>Acks every message (numbered from 1) until the client closes; returns their lengths.</summary>
    private static async Task<IReadOnlyList<int>> ServeAsync(WebSocket socket, CancellationToken token)
    {
        using (socket)
        {
            var lengths = new List<int>();
            var buffer = new byte[64 * 1024];
            var length = 0;
            while (true)
            {
                var result = await socket.ReceiveAsync(buffer, token);
                if (result.MessageType == WebSocketMessageType.Close)
                {
                    await socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, "", token);
                    return lengths;
                }

                length += result.Count;
                if (result.EndOfMessage)
                {
                    lengths.Add(length);
                    length = 0;
                    await socket.SendAsync(Encoding.UTF8.GetBytes($"{{\"type\":\"ack\",\"upTo\":{lengths.Count}}}"), WebSocketMessageType.Text, true, token);
                }
            }
        }
    }

    /// <summary>
    /// A WebSocket server on loopback that answers the handshake itself, on sockets with a 4 KB
    /// receive buffer, so that a client's large send stays unfinished while the test does not read.
    /// </summary>
    private sealed class LoopbackWebSocketServer : IDisposable
    {
        private readonly Socket _listener;

        private LoopbackWebSocketServer(Socket listener)
        {
            _listener = listener;
            Uri = new Uri($"ws://127.0.0.1:{((IPEndPoint)listener.LocalEndPoint!).Port}/ws");
        }

        public Uri Uri { get; }

        public static LoopbackWebSocketServer Start()
        {
            // Set before listening: accepted sockets inherit it, and so advertise a small TCP window.
            var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { ReceiveBufferSize = 4096 };
            listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
            listener.Listen();
            return new LoopbackWebSocketServer(listener);
        }

        public async Task<WebSocket> AcceptAsync(CancellationToken token)
        {
            var stream = new NetworkStream(await _listener.AcceptAsync(token), ownsSocket: true);
            var request = new StringBuilder();
            var one = new byte[1];
            while (!request.ToString().EndsWith("\r\n\r\n", StringComparison.Ordinal))
            {
                await stream.ReadExactlyAsync(one, token);
                request.Append((char)one[0]);
            }

            var key = request.ToString().Split("\r\n").First(line => line.StartsWith("Sec-WebSocket-Key:", StringComparison.OrdinalIgnoreCase))[18..].Trim();
#pragma warning disable CA5350 // SHA-1 is what RFC 6455 prescribes for the accept key
            var accept = Convert.ToBase64String(SHA1.HashData(Encoding.ASCII.GetBytes(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11")));
#pragma warning restore CA5350
            await stream.WriteAsync(Encoding.ASCII.GetBytes($"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n\r\n"), token);
            return WebSocket.CreateFromStream(stream, new WebSocketCreationOptions { IsServer = true, KeepAliveInterval = TimeSpan.Zero });
        }

        public void Dispose() => _listener.Dispose();
    }
}
