using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using Ingest.LoadTest.Engine;

namespace Ingest.UnitTests.LoadTest;

public sealed class LoadClientDisposeTests
{
    [Fact]
    public async Task DisposeAsync_ServerNeverAnswersTheClose_EndsQuietlyAfterTheCloseTimeout()
    {
        var token = TestContext.Current.CancellationToken;
        using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen();
        var uri = new Uri($"ws://127.0.0.1:{((IPEndPoint)listener.LocalEndPoint!).Port}/ws");
        var stats = new LoadStats();
        var client = new LoadClient(uri, new LoadClientOptions(), stats);

        var accepted = AcceptWithoutEverReadingAsync(listener, token);
        await client.StartAsync(token);
        using var server = await accepted;
        var disposing = Stopwatch.StartNew();
        await client.DisposeAsync();

        Assert.InRange(disposing.Elapsed, TimeSpan.FromSeconds(1.5), TimeSpan.FromSeconds(10));
        Assert.Equal(0, stats.ConnectionsOpen);
        Assert.Equal(0, stats.Reconnects);
    }

    /// <summary>Answers a WebSocket handshake on a raw socket, then reads nothing more: the client's close is never answered.</summary>
    private static async Task<Socket> AcceptWithoutEverReadingAsync(Socket listener, CancellationToken token)
    {
        var socket = await listener.AcceptAsync(token);
        var request = new StringBuilder();
        var one = new byte[1];
        while (!request.ToString().EndsWith("\r\n\r\n", StringComparison.Ordinal))
        {
            Assert.Equal(1, await socket.ReceiveAsync(one, token));
            request.Append((char)one[0]);
        }

        var key = request.ToString().Split("\r\n").Single(l => l.StartsWith("Sec-WebSocket-Key:", StringComparison.OrdinalIgnoreCase)).Split(':', 2)[1].Trim();
#pragma warning disable CA5350 // RFC 6455 prescribes SHA-1 for the accept key
        var accept = Convert.ToBase64String(SHA1.HashData(Encoding.ASCII.GetBytes(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11")));
#pragma warning restore CA5350
        await socket.SendAsync(Encoding.ASCII.GetBytes($"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n\r\n"), token);
        return socket;
    }
}
