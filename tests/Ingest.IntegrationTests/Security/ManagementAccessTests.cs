using System.Net;
using System.Net.Sockets;
using Ingest.Contracts;
using Ingest.Testing;

namespace Ingest.IntegrationTests.Security;

/// <summary>
/// <c>Ingest:Management</c> (docs/operations.md, "Security"): <c>/stats</c> on a port of its own,
/// 404 on the main port, probes open everywhere; and <c>/stats</c> behind an API key or token.
/// </summary>
public sealed class ManagementAccessTests
{
    [Fact]
    public async Task ManagementPort_ServesStatsThereOnly_MainPortIs404_ProbesOnBoth_NothingElseThere()
    {
        var port = FreePort();
        await using var gateway = await TestGateway.StartAsync(new Dictionary<string, string?> { ["Ingest:Management:Port"] = $"{port}" });
        using var management = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}") };

        Assert.Equal(HttpStatusCode.NotFound, await StatusAsync(gateway.Http, "/stats"));
        // The port is the connection's, not the Host header's, which any client can set.
        Assert.Equal(HttpStatusCode.NotFound, await StatusAsync(gateway.Http, "/stats", host: $"127.0.0.1:{port}"));
        using (var stats = await management.GetAsync(new Uri("/stats", UriKind.Relative), TestContext.Current.CancellationToken))
        {
            Assert.Equal(HttpStatusCode.OK, stats.StatusCode);
            GatewayStats.Parse(await stats.Content.ReadAsStringAsync(TestContext.Current.CancellationToken));
        }

        foreach (var client in new[] { gateway.Http, management })
        {
            Assert.Equal(HttpStatusCode.OK, await StatusAsync(client, "/healthz"));
            Assert.Contains(await StatusAsync(client, "/readyz"), new[] { HttpStatusCode.OK, HttpStatusCode.ServiceUnavailable });
        }

        Assert.Equal(HttpStatusCode.NotFound, await StatusAsync(management, "/"));
        Assert.Equal(HttpStatusCode.NotFound, await StatusAsync(management, "/ingest.js"));
        Assert.Equal(HttpStatusCode.NotFound, await StatusAsync(management, "/stream"));
        Assert.Equal(HttpStatusCode.NotFound, await TestClient.HandshakeStatusAsync(new Uri($"ws://127.0.0.1:{port}/ws")));
        Assert.Equal(HttpStatusCode.OK, await StatusAsync(gateway.Http, "/"));
        Assert.Equal(HttpStatusCode.SwitchingProtocols, await TestClient.HandshakeStatusAsync(gateway.WebSocketUri));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task RequireApiKey_StatsNeedsAKeyOrAToken_ProbesDoNot(bool ownPort)
    {
        var (secret, base64) = TestTokens.NewSecret();
        var settings = new Dictionary<string, string?>
        {
            ["Ingest:Auth:ApiKeys:0"] = "key-one",
            ["Ingest:Auth:Tokens:Keys:0:Id"] = "k1",
            ["Ingest:Auth:Tokens:Keys:0:Secret"] = base64,
            ["Ingest:Management:RequireApiKey"] = "true",
        };
        var port = ownPort ? FreePort() : 0;
        if (ownPort)
        {
            settings["Ingest:Management:Port"] = $"{port}";
        }

        await using var gateway = await TestGateway.StartAsync(settings);
        using var management = new HttpClient { BaseAddress = ownPort ? new Uri($"http://127.0.0.1:{port}") : gateway.HttpUri };
        var token = TestTokens.Mint("k1", secret, DateTimeOffset.UtcNow.AddMinutes(5), clientId: "a");

        Assert.Equal(HttpStatusCode.Unauthorized, await StatusAsync(management, "/stats"));
        Assert.Equal(HttpStatusCode.Unauthorized, await StatusAsync(management, "/stats?access_token=key-two"));
        Assert.Equal(HttpStatusCode.Unauthorized, await StatusAsync(management, "/stats", bearer: TestTokens.Mint("k1", TestTokens.NewSecret().Secret, DateTimeOffset.UtcNow.AddMinutes(5))));
        Assert.Equal(HttpStatusCode.OK, await StatusAsync(management, "/stats?access_token=key-one"));
        Assert.Equal(HttpStatusCode.OK, await StatusAsync(management, "/stats", bearer: token));
        Assert.Equal(HttpStatusCode.OK, await StatusAsync(management, "/healthz"));
        Assert.Contains(await StatusAsync(management, "/readyz"), new[] { HttpStatusCode.OK, HttpStatusCode.ServiceUnavailable });
    }

    private static async Task<HttpStatusCode> StatusAsync(HttpClient client, string path, string? host = null, string? bearer = null)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(path, UriKind.Relative));
        if (host is not null)
        {
            request.Headers.Host = host;
        }

        if (bearer is not null)
        {
            request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", bearer);
        }

        using var response = await client.SendAsync(request, TestContext.Current.CancellationToken);
        return response.StatusCode;
    }


    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
