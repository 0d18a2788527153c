using System.Net;
using System.Net.Http.Headers;
using Ingest.Kafka.Embedded;
using Ingest.Testing;

namespace Ingest.IntegrationTests.Security;

/// <summary>
/// No credential reaches the logs (docs/operations.md, "Security"): the gateway as its own process,
/// everything it writes captured, at Debug for itself and for ASP.NET Core, whose request logging
/// writes every URL with its query.
/// </summary>
public sealed class RedactionTests
{
    [Fact]
    public async Task DebugLogs_OfARunUsingEveryKindOfCredential_ContainNoneOfThem()
    {
        using var cluster = EmbeddedKafkaCluster.Start(brokerCount: 1);
        cluster.CreateTopic("events", partitions: 2);
        cluster.CreateTopic("events.dlq", partitions: 1);
        var queryKey = $"query-key-{Guid.NewGuid():N}";
        var bearerKey = $"bearer-key-{Guid.NewGuid():N}";
        var wrongKey = $"wrong-key-{Guid.NewGuid():N}";
        var saslPassword = $"sasl-password-{Guid.NewGuid():N}";
        var (secret, secretBase64) = TestTokens.NewSecret();
        await using var gateway = GatewayProcessHost.Start(new Dictionary<string, string>
        {
            ["Ingest:Kafka:BootstrapServers"] = cluster.BootstrapServers,
            ["Ingest:Auth:ApiKeys:0"] = queryKey,
            ["Ingest:Auth:ApiKeys:1"] = bearerKey,
            ["Ingest:Auth:Tokens:Keys:0:Id"] = "k1",
            ["Ingest:Auth:Tokens:Keys:0:Secret"] = secretBase64,
            ["Ingest:Management:RequireApiKey"] = "true",
            // The embedded broker speaks plaintext only; the password is configured all the same.
            ["Ingest:Kafka:Client:security.protocol"] = "PLAINTEXT",
            ["Ingest:Kafka:Client:sasl.password"] = saslPassword,
            ["Serilog:MinimumLevel:Default"] = "Debug",
            ["Serilog:MinimumLevel:Override:Microsoft.AspNetCore"] = "Debug",
        });
        await gateway.WaitUntilReadyAsync();
        var queryToken = TestTokens.Mint("k1", secret, DateTimeOffset.UtcNow.AddMinutes(5), clientId: "a");
        var bearerToken = TestTokens.Mint("k1", secret, DateTimeOffset.UtcNow.AddMinutes(5));
        var expiredToken = TestTokens.Mint("k1", secret, DateTimeOffset.UtcNow.AddMinutes(-5));

        // Every way in: API keys and tokens, in the query and in the header, on /ws, /stream and /stats.
        await SendOneAsync(new Uri($"{gateway.WebSocketUri}?access_token={queryKey}"));
        await SendOneAsync(gateway.WebSocketUri, bearerKey);
        await SendOneAsync(new Uri($"{gateway.WebSocketUri}?access_token={queryToken}"));
        await SendOneAsync(gateway.WebSocketUri, bearerToken);
        Assert.Equal(HttpStatusCode.OK, await GetAsync(gateway, $"/stats?access_token={queryKey}"));
        Assert.Equal(HttpStatusCode.OK, await GetAsync(gateway, "/stats", bearerToken));
        // The gateway's own Debug line names the /stream filter: a secret there is masked by its value alone.
        Assert.Equal(HttpStatusCode.OK, await GetAsync(gateway, $"/stream?clientId={saslPassword}&access_token={bearerKey}"));
        // Refused credentials are masked as well; and so are secrets in a path, where no pattern finds them.
        Assert.Equal(HttpStatusCode.Unauthorized, await GetAsync(gateway, $"/stream?access_token={wrongKey}"));
        Assert.Equal(HttpStatusCode.Unauthorized, await GetAsync(gateway, "/stream", expiredToken));
        Assert.Equal(HttpStatusCode.NotFound, await GetAsync(gateway, $"/no/{queryKey}/{secretBase64}"));

        gateway.Terminate();
        Assert.True(await gateway.WaitForExitAsync(TimeSpan.FromSeconds(60)), "the gateway did not exit");

        var output = gateway.Output.ToArray();
        // The capture is what the brief says it is: Debug lines, and the request logging that writes queries.
        Assert.Contains(output, l => l.Contains(" DBG] Ingest.Gateway.Streaming.StreamEndpoint", StringComparison.Ordinal) && l.Contains("[redacted]", StringComparison.Ordinal));
        Assert.Contains(output, l => l.Contains("Request starting", StringComparison.Ordinal) && l.Contains("/ws?access_token=[redacted]", StringComparison.Ordinal));
        Assert.Contains(output, l => l.Contains("Request starting", StringComparison.Ordinal) && l.Contains("/no/[redacted]/[redacted]", StringComparison.Ordinal));
        string[] secrets = [queryKey, bearerKey, wrongKey, saslPassword, secretBase64, queryToken, bearerToken, expiredToken, queryToken.Split('.')[2], bearerToken.Split('.')[2]];
        foreach (var leak in secrets.SelectMany(s => output.Where(l => l.Contains(s, StringComparison.Ordinal)).Select(l => (Secret: s, Line: l))))
        {
            Assert.Fail($"a credential is in the logs: {leak.Line}");
        }
    }

    private static async Task SendOneAsync(Uri uri, string? bearer = null)
    {
        await using var client = await TestClient.ConnectAsync(uri, o =>
        {
            if (bearer is not null)
            {
                o.SetRequestHeader("Authorization", $"Bearer {bearer}");
            }
        });
        await client.SendAndWaitAckAsync("{\"msg\":\"x\",\"clientId\":\"a\",\"timestamp\":1}");
        await client.CloseAsync();
    }

    private static async Task<HttpStatusCode> GetAsync(GatewayProcessHost gateway, string pathAndQuery, string? bearer = null)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(pathAndQuery, UriKind.Relative));
        if (bearer is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", bearer);
        }

        // Headers only: /stream answers a stream that never ends by itself.
        using var response = await gateway.Http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, TestContext.Current.CancellationToken);
        return response.StatusCode;
    }
}
