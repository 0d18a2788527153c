using System.Diagnostics.Metrics;
using System.Net.WebSockets;
using Ingest.Contracts;
using Ingest.Gateway.WebSockets;
using Ingest.Testing;

namespace Ingest.IntegrationTests.WebSockets;

/// <summary>
/// A plain-HTTP WebSocket runs after its handshake request has ended, at Kestrel's connection level
/// (ConnectionTakeover): the request's state is gone, Kestrel's HTTP timeouts no longer apply, and
/// bytes the client sent right behind its request are not lost. Over TLS it stays in its request.
/// </summary>
public sealed class ConnectionTakeoverTests
{
    private const string Valid = "{\"msg\":\"ok\",\"clientId\":\"c\",\"timestamp\":1}";

    [Fact]
    public async Task TheHandshakeRequestEnds_AndTheWebSocketOutlivesKestrelsTimeouts()
    {
        // Kestrel's keep-alive and header timeouts follow the handshake timeout: 1 s here. When a
        // request ends Kestrel also starts a response drain timeout (its 5 s grace period), which
        // closed taken-over connections before the HTTP layer's heartbeat was cut off.
        await using var gateway = await TestGateway.StartAsync(new Dictionary<string, string?> { ["Ingest:Limits:HandshakeTimeoutMs"] = "1000" });
        using var requests = new ActiveRequests(gateway.GetService<IMeterFactory>());
        await using var client = await TestClient.ConnectAsync(gateway.WebSocketUri);
        await client.SendAndWaitAckAsync(Valid);

        // The WebSocket is served only once its request has ended: by the first ack, none is active.
        Assert.Equal(1, requests.Started);
        Assert.Equal(0, requests.Active);

        // The passing of time is what is tested: idle past every one of Kestrel's timeouts.
        await Task.Delay(TimeSpan.FromSeconds(7.5), TestContext.Current.CancellationToken);
        Assert.False(client.IsClosed, $"closed while idle: {client.CloseStatus} {client.CloseDescription}");
        await client.SendAndWaitAckAsync(Valid);
        await client.CloseAsync();
        Assert.Equal(WebSocketCloseStatus.NormalClosure, client.CloseStatus);
        Assert.Empty(client.Errors);
        Assert.Equal(2, TopicReader.ReadAll(gateway.Kafka.BootstrapServers, gateway.Topic, 2).Count);
    }

    [Fact]
    public async Task FramesSentInTheSameSegmentAsTheRequest_AreReadAndAcked()
    {
        await using var gateway = await TestGateway.StartAsync();
        using var client = await RawWebSocketClient.ConnectAsync(gateway.WebSocketUri, request: false);

        // The request and two messages in one write: the HTTP layer parses the request from a
        // buffer that already holds the frames, which the WebSocket must then find.
        byte[] first = [.. RawWebSocketClient.UpgradeRequest(gateway.WebSocketUri), .. RawWebSocketClient.EncodeFrame(Opcode.Text, "{\"msg\":\"a\",\"clientId\":\"c\",\"timestamp\":1}"u8.ToArray())];
        byte[] both = [.. first, .. RawWebSocketClient.EncodeFrame(Opcode.Text, "{\"msg\":\"b\",\"clientId\":\"c\",\"timestamp\":2}"u8.ToArray())];
        await client.SendRawAsync(both);
        await client.ReadHandshakeResponseAsync();
        Assert.Equal(101, client.Response.Status);

        var acked = 0L;
        while (acked < 2)
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            var frame = await client.ReceiveFrameAsync(timeout.Token);
            Assert.NotNull(frame);
            var parsed = ServerFrame.Parse(frame.Payload);
            Assert.Equal(ServerFrameType.Ack, parsed.Type);
            acked = parsed.UpTo;
        }

        await client.SendCloseAsync();
        var transcript = await client.ReadUntilCloseAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(1000, transcript.Close?.CloseStatus);
        var texts = TopicReader.ReadAll(gateway.Kafka.BootstrapServers, gateway.Topic, 2).Select(r => r.Text).Order().ToList();
        Assert.Equal(["{\"msg\":\"a\",\"clientId\":\"c\",\"timestamp\":1}", "{\"msg\":\"b\",\"clientId\":\"c\",\"timestamp\":2}"], texts);
    }

    [Fact]
    public async Task ClientsThatVanishRightAfterThe101_GiveBackTheirSlots_AndOthersAreServed()
    {
        await using var gateway = await TestGateway.StartAsync();
        var registry = gateway.GetService<ConnectionRegistry>();

        // Each gets its 101 and resets the connection at once, some with a message half sent: the
        // hand-off then meets a dead socket, before or after the WebSocket starts on it.
        for (var i = 0; i < 20; i++)
        {
            using var client = await RawWebSocketClient.ConnectAsync(gateway.WebSocketUri);
            Assert.Equal(101, client.Response.Status);
            if (i % 2 == 0)
            {
                await client.SendRawAsync(RawWebSocketClient.EncodeFrame(Opcode.Text, "{\"msg\":\"half"u8.ToArray()).AsMemory(0, 8));
            }

            client.Socket.LingerState = new System.Net.Sockets.LingerOption(true, 0);
        }

        await registry.WhenEmptyAsync().WaitAsync(TimeSpan.FromSeconds(15), TestContext.Current.CancellationToken);
        Assert.Equal(0, registry.Active);
        await using var good = await TestClient.ConnectAsync(gateway.WebSocketUri);
        await good.SendAndWaitAckAsync(Valid);
        Assert.Equal(1, registry.Active);
    }

    [Fact]
    public async Task OverTls_TheWebSocketStaysInItsRequest()
    {
        using var certificate = TestCertificate.Create();
        await using var gateway = await TestGateway.StartAsync(certificate.HttpsEndpoint);
        using var requests = new ActiveRequests(gateway.GetService<IMeterFactory>());
        await using var client = await TestClient.ConnectAsync(gateway.WebSocketUri, o => o.RemoteCertificateValidationCallback = (_, presented, _, _) => certificate.Accepts(presented));
        await client.SendAndWaitAckAsync(Valid);

        Assert.Equal(1, requests.Active);
        await client.CloseAsync();
        Assert.Equal(WebSocketCloseStatus.NormalClosure, client.CloseStatus);
    }

    /// <summary>ASP.NET Core's <c>http.server.active_requests</c> of one gateway, summed as it changes.</summary>
    private sealed class ActiveRequests : IDisposable
    {
        private readonly MeterListener _listener = new();
        private long _active;
        private long _started;

        public ActiveRequests(IMeterFactory gatewayMeters)
        {
            _listener.InstrumentPublished = (instrument, listener) =>
            {
                if (instrument.Meter.Scope == gatewayMeters && instrument.Name == "http.server.active_requests")
                {
                    listener.EnableMeasurementEvents(instrument);
                }
            };
            _listener.SetMeasurementEventCallback<long>((_, change, _, _) =>
            {
                Interlocked.Add(ref _active, change);
                if (change > 0)
                {
                    Interlocked.Add(ref _started, change);
                }
            });
            _listener.Start();
        }

        public long Active => Interlocked.Read(ref _active);

        public long Started => Interlocked.Read(ref _started);

        public void Dispose() => _listener.Dispose();
    }
}
