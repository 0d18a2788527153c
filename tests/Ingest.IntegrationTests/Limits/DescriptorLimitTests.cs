using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Net.WebSockets;
using System.Text.RegularExpressions;
using Ingest.Testing;

namespace Ingest.IntegrationTests.Limits;

/// <summary>
/// No number of connections can run the gateway out of file descriptors (issue: about 20,000
/// silent sockets once made Kestrel's accept loop spin on EMFILE until a thread could not start and
/// the host stopped). Here the process runs under <c>ulimit -n 1024</c>, and is flooded past every
/// limit with upgraded WebSockets and with TCP connections that never send a byte. It times how
/// soon the excess is refused, so it runs with the measurements, alone in this assembly.
/// </summary>
[Collection(MeasurementCollection.Name)]
public sealed partial class DescriptorLimitTests
{
    private const int DescriptorLimit = 1024;
    private static readonly TimeSpan HandshakeTimeout = TimeSpan.FromSeconds(10);

    [Fact]
    public async Task LowDescriptorLimit_FloodPastEveryLimit_ProcessStaysUp_RefusesTheExcess_ServesAConnectedClient_AndRecovers()
    {
        await using var gateway = GatewayProcessHost.Start(
            new Dictionary<string, string>
            {
                ["Ingest:Kafka:Embedded:Brokers"] = "1",
                ["Ingest:Kafka:Embedded:Partitions"] = "2",
                ["Ingest:Kafka:Embedded:DiscoveryFile"] = "",
                ["Ingest:Limits:HandshakeTimeoutMs"] = HandshakeTimeout.TotalMilliseconds.ToString(CultureInfo.InvariantCulture),
            },
            descriptorLimit: DescriptorLimit);
        await gateway.WaitUntilReadyAsync();

        // The limits the gateway derived from its descriptor limit, as it logs them at start.
        var limits = Limits().Match(Assert.Single(LogLine.In(gateway.Output), l => l.Message.Contains("Connection limits:", StringComparison.Ordinal)).Message);
        Assert.True(limits.Success);
        Assert.Equal(DescriptorLimit, int.Parse(limits.Groups["descriptors"].Value, CultureInfo.InvariantCulture));
        var webSockets = int.Parse(limits.Groups["ws"].Value, CultureInfo.InvariantCulture);
        var http = int.Parse(limits.Groups["http"].Value, CultureInfo.InvariantCulture);

        await using var good = await TestClient.ConnectAsync(gateway.WebSocketUri);
        await good.SendAndWaitAckAsync(Event(0));

        // Upgraded flood: 40 more WebSockets than the limit. The excess gets 503, no upgrade.
        var upgraded = new List<TestClient>();
        var refused = 0;
        for (var i = 0; i < webSockets + 40; i++)
        {
            try
            {
                upgraded.Add(await TestClient.ConnectAsync(gateway.WebSocketUri));
            }
            catch (WebSocketException e) when (e.Message.Contains("503", StringComparison.Ordinal))
            {
                refused++;
            }
        }

        Assert.Equal(webSockets - 1, upgraded.Count); // the good client holds one slot
        Assert.Equal(41, refused);

        // Silent flood: 200 more TCP connections than the plain HTTP share, none sending a byte.
        var silent = new List<SilentConnection>();
        for (var i = 0; i < http + 200; i++)
        {
            silent.Add(await SilentConnection.OpenAsync(gateway.HttpUri.Port));
        }

        // The excess is closed at once, the rest held until the 10 s handshake timeout. (On a loaded
        // machine opening them all can take longer than that: the first ones may then have met the
        // timeout already, which is not a refusal; only connections younger than it count.)
        await Poll.UntilAsync(
            () => silent.Skip(http).All(c => c.ClosedByServer),
            "the connections past the limit to be refused",
            TimeSpan.FromSeconds(8),
            () => $"{silent.Skip(http).Count(c => c.ClosedByServer)} of the {silent.Count - http} past the limit closed");
        // Within the limit, a few slots may still be held by the refused WebSockets' connections.
        Assert.InRange(silent.Take(http).Count(c => c.ClosedByServer && c.OpenFor < HandshakeTimeout), 0, 10);

        // Meanwhile the process is up and the connected client is served.
        for (var i = 1; i <= 5; i++)
        {
            await good.SendAndWaitAckAsync(Event(i));
        }

        Assert.False(gateway.HasExited);

        // Silent connections are dropped by the handshake timeout.
        await Poll.UntilAsync(() => silent.All(c => c.ClosedByServer), "every silent connection to be dropped", TimeSpan.FromSeconds(30));

        // Recovery: once the flood is gone, new clients connect and are served.
        foreach (var client in upgraded)
        {
            await client.DisposeAsync();
        }

        foreach (var connection in silent)
        {
            connection.Dispose();
        }

        await Poll.UntilAsync(() => TryConnect(gateway.WebSocketUri).GetAwaiter().GetResult(), "a new client to connect after the flood", TimeSpan.FromSeconds(15));
        await using (var late = await TestClient.ConnectAsync(gateway.WebSocketUri))
        {
            await late.SendAndWaitAckAsync(Event(6));
        }

        await good.SendAndWaitAckAsync(Event(7));
        Assert.False(gateway.HasExited);
        Assert.DoesNotContain(gateway.Output, line => line.Contains("Too many open files", StringComparison.Ordinal));
        Assert.DoesNotContain(LogLine.In(gateway.Output), line => line.Level == "Fatal");
    }

    private static string Event(int i) => $"{{\"msg\":\"{i}\",\"clientId\":\"good\",\"timestamp\":{i}}}";

    private static async Task<bool> TryConnect(Uri uri)
    {
        try
        {
            await using var client = await TestClient.ConnectAsync(uri);
            return true;
        }
        catch (WebSocketException)
        {
            return false;
        }
    }

    [GeneratedRegex(@"Connection limits: (?<total>\d+) TCP connections \((?<ws>\d+) WebSockets, (?<http>\d+) other HTTP\) within a limit of (?<descriptors>\d+) file descriptors")]
    private static partial Regex Limits();

    /// <summary>A TCP connection that sends nothing and notices when the server closes it.</summary>
    private sealed class SilentConnection : IDisposable
    {
        private readonly Socket _socket;
        private readonly Task _closed;
        private readonly long _opened = System.Diagnostics.Stopwatch.GetTimestamp();
        private long _closedAt;

        private SilentConnection(Socket socket)
        {
            _socket = socket;
            _closed = WaitForCloseAsync(socket);
        }

        public bool ClosedByServer => _closed.IsCompleted;

        /// <summary>From the connect to the server's close (or to now while open).</summary>
        public TimeSpan OpenFor => System.Diagnostics.Stopwatch.GetElapsedTime(_opened, ClosedByServer ? Volatile.Read(ref _closedAt) : System.Diagnostics.Stopwatch.GetTimestamp());

        public static async Task<SilentConnection> OpenAsync(int port)
        {
            var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            await socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, port), TestContext.Current.CancellationToken);
            return new SilentConnection(socket);
        }

        public void Dispose() => _socket.Dispose();

        private async Task WaitForCloseAsync(Socket socket)
        {
            var buffer = new byte[16];
            try
            {
                while (await socket.ReceiveAsync(buffer, SocketFlags.None) > 0)
                {
                }
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException)
            {
                // Reset: closed all the same.
            }

            Volatile.Write(ref _closedAt, System.Diagnostics.Stopwatch.GetTimestamp());
        }
    }
}
