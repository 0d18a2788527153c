using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Net;
using System.Text.Json;
using Ingest.Gateway.Diagnostics;
using Ingest.Gateway.WebSockets;
using Ingest.Testing;

namespace Ingest.IntegrationTests.Limits;

/// <summary>
/// The limits a connection meets before it is a WebSocket (docs/protocol.md, "Handshake"): the
/// WebSocket version (426), the per-address and global limits (429, 503, with the client address
/// taken from X-Forwarded-For only behind a trusted proxy), and the handshake timeout.
/// </summary>
public sealed class HandshakeLimitTests
{
    private const string Valid = "{\"msg\":\"ok\",\"clientId\":\"c\",\"timestamp\":1}";

    [Fact]
    public async Task UpgradeInAnotherVersion_Is426_NamingVersion13_AndAPlainGet_Is400()
    {
        await using var gateway = await TestGateway.StartAsync();

        using var version8 = await RawWebSocketClient.ConnectAsync(gateway.WebSocketUri, version: "8");
        using var version13 = await RawWebSocketClient.ConnectAsync(gateway.WebSocketUri, version: "13");
        using var plain = await gateway.Http.GetAsync(new Uri("/ws", UriKind.Relative), TestContext.Current.CancellationToken);

        Assert.Equal(426, version8.Response.Status);
        Assert.Equal("13", version8.Response.Header("Sec-WebSocket-Version"));
        Assert.Equal("unsupported_websocket_version", ErrorCode(version8.Response.Body));
        Assert.Equal(101, version13.Response.Status);
        Assert.Equal(HttpStatusCode.BadRequest, plain.StatusCode);
        Assert.Equal("websocket_required", ErrorCode(await plain.Content.ReadAsStringAsync(TestContext.Current.CancellationToken)));
    }

    [Fact]
    public async Task PerAddressLimit_TheNextHandshakeIs429WithRetryAfter_AndAClosedConnectionFreesItsSlot()
    {
        await using var gateway = await TestGateway.StartAsync(new Dictionary<string, string?> { ["Ingest:Limits:MaxConnectionsPerAddress"] = "3" });
        var registry = gateway.GetService<ConnectionRegistry>();
        var refusedBefore = Refused(gateway);
        var clients = new List<TestClient>();
        try
        {
            for (var i = 0; i < 3; i++)
            {
                clients.Add(await TestClient.ConnectAsync(gateway.WebSocketUri));
            }

            using (var fourth = await RawWebSocketClient.ConnectAsync(gateway.WebSocketUri))
            {
                Assert.Equal(429, fourth.Response.Status);
                Assert.Equal("5", fourth.Response.Header("Retry-After"));
                Assert.Equal("too_many_connections_from_address", ErrorCode(fourth.Response.Body));
            }

            Assert.Equal(refusedBefore + 1, Refused(gateway));

            await clients[0].CloseAsync();
            await Poll.UntilAsync(() => registry.Active == 2, "the closed connection's slot to be given back");
            using var again = await RawWebSocketClient.ConnectAsync(gateway.WebSocketUri);
            Assert.Equal(101, again.Response.Status);

            // The connections that were there all along were never disturbed.
            await clients[1].SendAndWaitAckAsync(Valid);
            await clients[2].SendAndWaitAckAsync(Valid);
        }
        finally
        {
            foreach (var client in clients)
            {
                await client.DisposeAsync();
            }
        }
    }

    [Fact]
    public async Task BehindATrustedProxy_EachForwardedAddressHasItsOwnLimit()
    {
        await using var gateway = await TestGateway.StartAsync(new Dictionary<string, string?>
        {
            ["Ingest:Limits:MaxConnectionsPerAddress"] = "3",
            ["Ingest:Limits:TrustedProxies:0"] = "127.0.0.1",
        });
        var open = new List<RawWebSocketClient>();
        try
        {
            foreach (var address in new[] { "203.0.113.1", "203.0.113.2" })
            {
                for (var i = 0; i < 3; i++)
                {
                    open.Add(await ForwardedForAsync(gateway, address));
                    Assert.Equal(101, open[^1].Response.Status);
                }
            }

            using var fourthOfFirst = await ForwardedForAsync(gateway, "203.0.113.1");
            using var fourthOfSecond = await ForwardedForAsync(gateway, "203.0.113.2");
            using var proxyItself = await RawWebSocketClient.ConnectAsync(gateway.WebSocketUri);

            Assert.Equal(429, fourthOfFirst.Response.Status);
            Assert.Equal(429, fourthOfSecond.Response.Status);
            Assert.Equal(101, proxyItself.Response.Status); // 127.0.0.1 has its own three
            Assert.Equal(7, gateway.GetService<ConnectionRegistry>().Active);
        }
        finally
        {
            open.ForEach(c => c.Dispose());
        }
    }

    [Fact]
    public async Task WithoutTrustedProxies_XForwardedForIsIgnored_EveryConnectionCountsAsThePeer()
    {
        await using var gateway = await TestGateway.StartAsync(new Dictionary<string, string?> { ["Ingest:Limits:MaxConnectionsPerAddress"] = "3" });
        var open = new List<RawWebSocketClient>();
        try
        {
            foreach (var address in new[] { "203.0.113.1", "203.0.113.2", "203.0.113.3" })
            {
                open.Add(await ForwardedForAsync(gateway, address));
                Assert.Equal(101, open[^1].Response.Status);
            }

            using var fourth = await ForwardedForAsync(gateway, "203.0.113.4");

            Assert.Equal(429, fourth.Response.Status);
            Assert.Equal("too_many_connections_from_address", ErrorCode(fourth.Response.Body));
        }
        finally
        {
            open.ForEach(c => c.Dispose());
        }
    }

    [Fact]
    public async Task GlobalWebSocketLimit_TheNextHandshakeIs503WithRetryAfter_WhileOtherRequestsAreServed()
    {
        await using var gateway = await TestGateway.StartAsync(new Dictionary<string, string?> { ["Ingest:WebSocket:MaxConnections"] = "2" });
        var refusedBefore = Refused(gateway);
        using var first = await RawWebSocketClient.ConnectAsync(gateway.WebSocketUri);
        using var second = await RawWebSocketClient.ConnectAsync(gateway.WebSocketUri);

        using var third = await RawWebSocketClient.ConnectAsync(gateway.WebSocketUri);
        using var health = await gateway.Http.GetAsync(new Uri("/healthz", UriKind.Relative), TestContext.Current.CancellationToken);

        Assert.Equal(101, first.Response.Status);
        Assert.Equal(101, second.Response.Status);
        Assert.Equal(503, third.Response.Status);
        Assert.Equal("5", third.Response.Header("Retry-After"));
        Assert.Equal("too_many_connections", ErrorCode(third.Response.Body));
        Assert.Equal(refusedBefore + 1, Refused(gateway));
        Assert.Equal(HttpStatusCode.OK, health.StatusCode);
    }

    [Fact]
    public async Task HandshakeTimeout_ClosesSilentAndHalfSentRequests_ButNotAnUpgradedConnection()
    {
        await using var gateway = await TestGateway.StartAsync(new Dictionary<string, string?> { ["Ingest:Limits:HandshakeTimeoutMs"] = "1000" });
        var clock = Stopwatch.StartNew();
        using var silent = await RawWebSocketClient.ConnectAsync(gateway.WebSocketUri, request: false);
        using var half = await RawWebSocketClient.ConnectAsync(gateway.WebSocketUri, request: false);
        await half.SendRawAsync("GET /ws HT"u8.ToArray());
        using var upgraded = await RawWebSocketClient.ConnectAsync(gateway.WebSocketUri);
        Assert.Equal(101, upgraded.Response.Status);

        await silent.DrainUntilEndAsync(TimeSpan.FromSeconds(15));
        var silentClosed = clock.Elapsed;
        await half.DrainUntilEndAsync(TimeSpan.FromSeconds(15));
        var halfClosed = clock.Elapsed;

        // Kestrel checks its timeouts once a second: closed after 1 to 2 s, allowing for a busy machine.
        Assert.InRange(silentClosed, TimeSpan.FromMilliseconds(900), TimeSpan.FromSeconds(8));
        Assert.InRange(halfClosed, TimeSpan.FromMilliseconds(900), TimeSpan.FromSeconds(8));

        // The upgraded connection outlives several handshake timeouts, and works.
        var remaining = TimeSpan.FromSeconds(4) - clock.Elapsed;
        Assert.False(remaining > TimeSpan.Zero && await upgraded.EndsWithinAsync(remaining), "the upgraded connection was closed");
        await upgraded.SendTextAsync(Valid);
        var ack = await upgraded.ReceiveFrameAsync(TestContext.Current.CancellationToken);
        Assert.NotNull(ack);
        Assert.Equal("{\"type\":\"ack\",\"upTo\":1}", ack.Text);
    }

    /// <summary>A handshake as a proxy forwards it: from 127.0.0.1, naming the client in X-Forwarded-For.</summary>
    private static Task<RawWebSocketClient> ForwardedForAsync(TestGateway gateway, string address) =>
        RawWebSocketClient.ConnectAsync(gateway.WebSocketUri, headers: [new("X-Forwarded-For", address)]);

    private static string? ErrorCode(string body)
    {
        using var json = JsonDocument.Parse(body);
        return json.RootElement.GetProperty("error").GetString();
    }

    /// <summary>The gateway's <c>ingest.connections.refused</c> counter (every reason), read from its own meter.</summary>
    private static long Refused(TestGateway gateway)
    {
        var value = 0L;
        var measured = false;
        var meter = gateway.Metrics.Meter;
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter == meter && instrument.Name == "ingest.connections.refused")
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        listener.SetMeasurementEventCallback<long>((_, measurement, _, _) =>
        {
            value += measurement;
            measured = true;
        });
        listener.Start();
        listener.RecordObservableInstruments();
        Assert.True(measured, $"{IngestMetrics.Name} has no ingest.connections.refused counter");
        return value;
    }
}
