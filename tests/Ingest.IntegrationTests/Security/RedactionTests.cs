using System.Net;
using System.Net.Http.Headers;
using Ingest.Kafka.Embedded;
using Ingest.Testing;

namespace Ingest.IntegrationTests.Security;

/// <summary>
/// No credential reaches the logs (docs/operations.md, "Redaction"): the gateway as its own process
/// in its Production configuration, everything it writes captured: its compact JSON on stdout, and
/// a second, readable sink added under <c>Serilog:WriteTo</c> on stderr. At Debug for itself and for
/// ASP.NET Core, whose own request logging writes every URL with its query.
/// </summary>
public sealed class RedactionTests
{
    /// <summary>The second sink's lines start so; the first sink's are JSON.</summary>
    private const string Readable = "readable ";

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
            // The embedded broker (librdkafka's mock cluster) answers no SASL handshake, so the
            // clients speak plaintext; the SASL settings are in every client's configuration all the
            // same, and the gateway logs them at start (Debug).
            ["Ingest:Kafka:Client:security.protocol"] = "PLAINTEXT",
            ["Ingest:Kafka:Client:sasl.mechanism"] = "PLAIN",
            ["Ingest:Kafka:Client:sasl.username"] = "ingest",
            ["Ingest:Kafka:Client:sasl.password"] = saslPassword,
            ["Serilog:MinimumLevel:Default"] = "Debug",
            ["Serilog:MinimumLevel:Override:Microsoft.AspNetCore"] = "Debug",
            // Next to appsettings.Production.json's console sink (compact JSON on stdout).
            ["Serilog:WriteTo:1:Name"] = "Console",
            ["Serilog:WriteTo:1:Args:outputTemplate"] = Readable + "{Level:u3} {SourceContext}: {Message:lj}{NewLine}{Exception}",
            ["Serilog:WriteTo:1:Args:standardErrorFromLevel"] = "Verbose",
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
        var json = LogLine.In(output);
        var readable = output.Where(l => l.StartsWith(Readable, StringComparison.Ordinal)).ToArray();

        // The capture is what it should be, in both sinks: Debug lines, the request lines (which
        // write queries and paths), the connection lines, and the Kafka properties with the password.
        Assert.Contains(json, l => l.Level == "Debug" && l.SourceContext == "Ingest.Gateway.Streaming.StreamEndpoint" && l.Message.Contains("[redacted]", StringComparison.Ordinal));
        Assert.Contains(json, l => l.SourceContext == RequestLogging && l.Property("RequestPath")?.GetString() == "/stats?access_token=[redacted]" && l.Property("StatusCode")?.GetInt32() == 200);
        Assert.Contains(json, l => l.SourceContext == RequestLogging && l.Property("RequestPath")?.GetString() == "/stream?access_token=[redacted]" && l.Property("StatusCode")?.GetInt32() == 401);
        Assert.Contains(json, l => l.SourceContext == RequestLogging && l.Property("RequestPath")?.GetString() == "/no/[redacted]/[redacted]" && l.Property("StatusCode")?.GetInt32() == 404);
        Assert.Contains(json, l => l.Message.StartsWith("Request starting", StringComparison.Ordinal) && l.Property("Path")?.GetString() == "/ws" && l.Property("QueryString")?.GetString() == "?access_token=[redacted]");
        Assert.Contains(readable, l => l.Contains("Request starting", StringComparison.Ordinal) && l.Contains("/ws?access_token=[redacted]", StringComparison.Ordinal));
        Assert.Equal(4, json.Count(l => l.Level == "Debug" && EventId(l) == 100 && l.Property("RemoteAddress")?.GetString() == "127.0.0.1"));
        Assert.Equal(4, json.Count(l => EventId(l) == 101 && l.Level == "Information" && l.Property("Events")?.GetInt64() == 1 && l.Property("CloseStatus")?.GetInt32() == 1000));
        var kafka = Assert.Single(json, l => EventId(l) == 9);
        Assert.Equal("[redacted]", kafka.Property("Client")?.GetProperty("sasl.password").GetString());
        Assert.Equal("ingest", kafka.Property("Client")?.GetProperty("sasl.username").GetString());
        Assert.Contains(readable, l => l.Contains("HTTP GET /stats?access_token=[redacted] responded 200", StringComparison.Ordinal));
        Assert.Contains(readable, l => l.Contains("HTTP GET /no/[redacted]/[redacted] responded 404", StringComparison.Ordinal));
        Assert.Equal(4, readable.Count(l => l.StartsWith(Readable + "INF Ingest.Gateway.WebSockets.WebSocketIngestEndpoint: Connection ", StringComparison.Ordinal) && l.Contains(" closed after ", StringComparison.Ordinal)));
        Assert.Contains(readable, l => l.Contains("\"sasl.password\": \"[redacted]\"", StringComparison.Ordinal));
        string[] secrets = [queryKey, bearerKey, wrongKey, saslPassword, secretBase64, queryToken, bearerToken, expiredToken, queryToken.Split('.')[2], bearerToken.Split('.')[2]];
        foreach (var leak in secrets.SelectMany(s => output.Where(l => l.Contains(s, StringComparison.Ordinal)).Select(l => (Secret: s, Line: l))))
        {
            Assert.Fail($"a credential is in the logs: {leak.Line}");
        }
    }

    private const string RequestLogging = "Serilog.AspNetCore.RequestLoggingMiddleware";

    private static int? EventId(LogLine line) =>
        line.Property("EventId") is { } id && id.TryGetProperty("Id", out var value) ? value.GetInt32() : null;

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
