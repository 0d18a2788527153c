using System.Net;
using Ingest.Testing;

namespace Ingest.IntegrationTests.WebSockets;

/// <summary>The handshake rules: API keys, origins, the connection limit.</summary>
public sealed class HandshakeTests
{
    private static readonly Dictionary<string, string?> WithKeys = new()
    {
        ["Ingest:Auth:ApiKeys:0"] = "key-one",
        ["Ingest:Auth:ApiKeys:1"] = "key-two",
    };

    [Fact]
    public async Task AuthOn_MissingOrWrongKey_Is401_WithoutUpgrade()
    {
        await using var gateway = await TestGateway.StartAsync(WithKeys);

        Assert.Equal(HttpStatusCode.Unauthorized, await TestClient.HandshakeStatusAsync(gateway.WebSocketUri));
        Assert.Equal(HttpStatusCode.Unauthorized, await TestClient.HandshakeStatusAsync(gateway.WebSocketUri, o => o.SetRequestHeader("Authorization", "Bearer wrong")));
        Assert.Equal(HttpStatusCode.Unauthorized, await TestClient.HandshakeStatusAsync(new Uri(gateway.WebSocketUri + "?access_token=wrong")));
    }

    [Fact]
    public async Task AuthOn_BearerHeaderOrAccessTokenQuery_Connects()
    {
        await using var gateway = await TestGateway.StartAsync(WithKeys);

        await using (var header = await TestClient.ConnectAsync(gateway.WebSocketUri, o => o.SetRequestHeader("Authorization", "Bearer key-two")))
        {
            await header.SendAndWaitAckAsync("{\"msg\":\"a\",\"clientId\":\"c\",\"timestamp\":1}");
        }

        await using var query = await TestClient.ConnectAsync(new Uri(gateway.WebSocketUri + "?access_token=key-one"));
        await query.SendAndWaitAckAsync("{\"msg\":\"b\",\"clientId\":\"c\",\"timestamp\":1}");
    }

    [Fact]
    public async Task OriginNotAllowed_Is403_AllowedOrAbsentOrigin_Connects()
    {
        await using var gateway = await TestGateway.StartAsync(new Dictionary<string, string?> { ["Ingest:AllowedOrigins:0"] = "https://app.example.com" });

        Assert.Equal(HttpStatusCode.Forbidden, await TestClient.HandshakeStatusAsync(gateway.WebSocketUri, o => o.SetRequestHeader("Origin", "https://evil.example.com")));
        Assert.Equal(HttpStatusCode.SwitchingProtocols, await TestClient.HandshakeStatusAsync(gateway.WebSocketUri, o => o.SetRequestHeader("Origin", "https://app.example.com")));
        Assert.Equal(HttpStatusCode.SwitchingProtocols, await TestClient.HandshakeStatusAsync(gateway.WebSocketUri));
    }

    [Fact]
    public async Task OverTheConnectionLimit_Is503_AndAFreedSlotIsReused()
    {
        await using var gateway = await TestGateway.StartAsync(new Dictionary<string, string?> { ["Ingest:WebSocket:MaxConnections"] = "2" });
        await using var first = await TestClient.ConnectAsync(gateway.WebSocketUri);
        var second = await TestClient.ConnectAsync(gateway.WebSocketUri);

        Assert.Equal(HttpStatusCode.ServiceUnavailable, await TestClient.HandshakeStatusAsync(gateway.WebSocketUri));

        await second.CloseAsync();
        await second.DisposeAsync();
        await Poll.UntilAsync(() => gateway.Metrics.Snapshot(0, 0).ConnectionsActive == 1, "the one connection to be counted");
        Assert.Equal(HttpStatusCode.SwitchingProtocols, await TestClient.HandshakeStatusAsync(gateway.WebSocketUri));
    }

    [Fact]
    public async Task PlainGet_OnWs_Is400()
    {
        await using var gateway = await TestGateway.StartAsync();

        var response = await gateway.Http.GetAsync(new Uri("/ws", UriKind.Relative), TestContext.Current.CancellationToken);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
    }

}
