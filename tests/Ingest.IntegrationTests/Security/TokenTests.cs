using System.Net;
using Ingest.Contracts;
using Ingest.Testing;

namespace Ingest.IntegrationTests.Security;

/// <summary>
/// Signed tokens (docs/protocol.md, "Handshake"): HS256 with a known kid and a future exp admits a
/// connection on /ws and /stream like an API key does, and a clientId claim limits the connection
/// to that clientId; any other token is 401.
/// </summary>
public sealed class TokenTests
{
    private const string Kid = "backend-1";

    private static readonly (byte[] Secret, string Base64) Key = TestTokens.NewSecret();

    private static Dictionary<string, string?> Settings(bool withApiKey = false)
    {
        var settings = new Dictionary<string, string?>
        {
            ["Ingest:Auth:Tokens:Keys:0:Id"] = Kid,
            ["Ingest:Auth:Tokens:Keys:0:Secret"] = Key.Base64,
        };
        if (withApiKey)
        {
            settings["Ingest:Auth:ApiKeys:0"] = "key-one";
        }

        return settings;
    }

    [Fact]
    public async Task TokenNamingClientA_EventForA_IsAcked_EventForB_IsClientIdMismatch_DeadLettered_AndTheConnectionLivesOn()
    {
        await using var gateway = await TestGateway.StartAsync(Settings());
        var token = TestTokens.Mint(Kid, Key.Secret, DateTimeOffset.UtcNow.AddMinutes(5), clientId: "a");
        await using var client = await TestClient.ConnectAsync(new Uri($"{gateway.WebSocketUri}?access_token={token}"));
        const string ForA = "{\"msg\":\"mine\",\"clientId\":\"a\",\"timestamp\":1}";
        const string ForB = "{\"msg\":\"theirs\",\"clientId\":\"b\",\"timestamp\":2}";
        const string BatchWithB = "[" + ForA + "," + ForB + "]";

        await client.SendAndWaitAckAsync(ForA);
        await client.SendAsync(ForB);
        var error = await client.WaitForErrorAsync(2);
        await client.SendAsync(BatchWithB);
        var batchError = await client.WaitForErrorAsync(3);
        await client.SendAndWaitAckAsync(ForA);

        Assert.Equal(ErrorCodes.ClientIdMismatch, error.Code);
        Assert.Contains("\"b\"", error.Message, StringComparison.Ordinal);
        Assert.Equal(ErrorCodes.ClientIdMismatch, batchError.Code);
        Assert.False(client.IsClosed);
        var records = TopicReader.ReadAll(gateway.Kafka.BootstrapServers, gateway.Topic, 2);
        Assert.Equal(2, records.Count);
        Assert.All(records, r => Assert.Equal("a", r.Key));
        var deadLetters = TopicReader.ReadAll(gateway.Kafka.BootstrapServers, gateway.DeadLetterTopic, 2);
        Assert.Equal(new[] { ForB, BatchWithB }.Order(StringComparer.Ordinal), deadLetters.Select(d => d.Text).Order(StringComparer.Ordinal));
        Assert.All(deadLetters, d => Assert.Equal(ErrorCodes.ClientIdMismatch, d.Headers[IngestHeaders.Error]));
    }

    [Fact]
    public async Task TokenNamingClientA_StreamsOnlyAsEvents_AndAFilterForAnotherClientIs403()
    {
        await using var gateway = await TestGateway.StartAsync(Settings());
        var token = TestTokens.Mint(Kid, Key.Secret, DateTimeOffset.UtcNow.AddMinutes(5), clientId: "a");
        await using var stream = await SseClient.ConnectAsync(gateway.HttpUri, $"/stream?access_token={token}");
        var ready = await stream.WaitForReadyAsync();

        using (var other = await gateway.Http.GetAsync(new Uri($"/stream?clientId=b&access_token={token}", UriKind.Relative), TestContext.Current.CancellationToken))
        {
            Assert.Equal(System.Net.HttpStatusCode.Forbidden, other.StatusCode);
            Assert.Contains("client_id_mismatch", await other.Content.ReadAsStringAsync(TestContext.Current.CancellationToken), StringComparison.Ordinal);
        }

        // Events of "b" (sent with a token that allows any clientId) never reach a's stream.
        var anyone = TestTokens.Mint(Kid, Key.Secret, DateTimeOffset.UtcNow.AddMinutes(5));
        await using (var sender = await TestClient.ConnectAsync(new Uri($"{gateway.WebSocketUri}?access_token={anyone}")))
        {
            await sender.SendAndWaitAckAsync("{\"msg\":\"for b\",\"clientId\":\"b\",\"timestamp\":1}");
            await sender.SendAndWaitAckAsync("{\"msg\":\"for a\",\"clientId\":\"a\",\"timestamp\":2}");
        }

        // Both records went through the gateway's stream consumer; only a's reached this stream.
        await Poll.UntilAsync(() => gateway.GetService<Ingest.Gateway.Streaming.StreamHub>().Published >= 2, "both events to be read back from Kafka");
        await stream.WaitUntilAsync(() => stream.Telemetry.Count >= 1, "a's event on its stream");
        Assert.Contains("\"clientId\":\"a\"", ready.Data, StringComparison.Ordinal);
        var only = Assert.Single(stream.Telemetry);
        Assert.Contains("for a", only.Data, StringComparison.Ordinal);
    }

    [Fact]
    public async Task TokenWithoutClientId_AnyClientIdIsAccepted_InTheHeaderOrTheQuery()
    {
        await using var gateway = await TestGateway.StartAsync(Settings());
        var token = TestTokens.Mint(Kid, Key.Secret, DateTimeOffset.UtcNow.AddMinutes(5));

        await using (var header = await TestClient.ConnectAsync(gateway.WebSocketUri, o => o.SetRequestHeader("Authorization", $"Bearer {token}")))
        {
            await header.SendAndWaitAckAsync("{\"msg\":\"x\",\"clientId\":\"a\",\"timestamp\":1}");
            await header.SendAndWaitAckAsync("{\"msg\":\"x\",\"clientId\":\"b\",\"timestamp\":1}");
            Assert.Empty(header.Errors);
        }

        await using var query = await TestClient.ConnectAsync(new Uri($"{gateway.WebSocketUri}?access_token={token}"));
        await query.SendAndWaitAckAsync("{\"msg\":\"x\",\"clientId\":\"c\",\"timestamp\":1}");
        Assert.Empty(query.Errors);
    }

    public static TheoryData<string, string> RefusedTokens()
    {
        var other = TestTokens.NewSecret().Secret;
        var future = DateTimeOffset.UtcNow.AddMinutes(5);
        return new()
        {
            { "expired beyond the clock skew", TestTokens.Mint(Kid, Key.Secret, DateTimeOffset.UtcNow.AddMinutes(-2)) },
            { "signed with another secret", TestTokens.Mint(Kid, other, future) },
            { "an unknown kid", TestTokens.Mint("backend-2", Key.Secret, future) },
            { "no kid", TestTokens.Mint(null, Key.Secret, future) },
            { "alg none", TestTokens.Mint(Kid, Key.Secret, future, alg: "none") },
            { "alg HS512", TestTokens.Mint(Kid, Key.Secret, future, alg: "HS512") },
            { "no exp", TestTokens.Mint(Kid, Key.Secret, expires: null) },
            { "a tampered payload", Tamper(TestTokens.Mint(Kid, Key.Secret, future, clientId: "a")) },
        };
    }

    [Theory]
    [MemberData(nameof(RefusedTokens))]
    public async Task RefusedToken_Is401_OnWsAndStream_AsHeaderAndAsQuery(string description, string token)
    {
        await using var gateway = await TestGateway.StartAsync(Settings(withApiKey: true));

        Assert.Equal(HttpStatusCode.Unauthorized, await TestClient.HandshakeStatusAsync(new Uri($"{gateway.WebSocketUri}?access_token={token}")));
        Assert.Equal(HttpStatusCode.Unauthorized, await TestClient.HandshakeStatusAsync(gateway.WebSocketUri, o => o.SetRequestHeader("Authorization", $"Bearer {token}")));
        using var stream = await gateway.Http.GetAsync(new Uri($"/stream?access_token={token}", UriKind.Relative), HttpCompletionOption.ResponseHeadersRead, TestContext.Current.CancellationToken);
        Assert.True(stream.StatusCode == HttpStatusCode.Unauthorized, description);
        Assert.Contains("invalid_token", stream.Headers.WwwAuthenticate.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task ExpiredToken_SaysSoInTheBody()
    {
        await using var gateway = await TestGateway.StartAsync(Settings());
        var expired = TestTokens.Mint(Kid, Key.Secret, DateTimeOffset.UtcNow.AddMinutes(-2));

        using var response = await gateway.Http.GetAsync(new Uri($"/stream?access_token={expired}", UriKind.Relative), TestContext.Current.CancellationToken);

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Contains("expired", await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken), StringComparison.Ordinal);
    }

    [Fact]
    public async Task ApiKeyAndTokens_EitherIsAccepted_OnWsAndStream_NothingIs401()
    {
        await using var gateway = await TestGateway.StartAsync(Settings(withApiKey: true));
        var token = TestTokens.Mint(Kid, Key.Secret, DateTimeOffset.UtcNow.AddSeconds(-10)); // expired, but within the 30 s skew

        Assert.Equal(HttpStatusCode.SwitchingProtocols, await TestClient.HandshakeStatusAsync(new Uri($"{gateway.WebSocketUri}?access_token=key-one")));
        Assert.Equal(HttpStatusCode.SwitchingProtocols, await TestClient.HandshakeStatusAsync(new Uri($"{gateway.WebSocketUri}?access_token={token}")));
        Assert.Equal(HttpStatusCode.Unauthorized, await TestClient.HandshakeStatusAsync(gateway.WebSocketUri));
        Assert.Equal(HttpStatusCode.OK, await StreamStatusAsync(gateway, "?access_token=key-one"));
        Assert.Equal(HttpStatusCode.OK, await StreamStatusAsync(gateway, $"?access_token={token}"));
        Assert.Equal(HttpStatusCode.Unauthorized, await StreamStatusAsync(gateway, ""));
    }

    private static string Tamper(string token)
    {
        var parts = token.Split('.');
        var payload = Convert.FromBase64String(parts[1].Replace('-', '+').Replace('_', '/') + new string('=', (4 - parts[1].Length % 4) % 4));
        var changed = System.Text.Encoding.UTF8.GetString(payload).Replace("\"a\"", "\"b\"", StringComparison.Ordinal);
        parts[1] = Convert.ToBase64String(System.Text.Encoding.UTF8.GetBytes(changed)).TrimEnd('=').Replace('+', '-').Replace('/', '_');
        return string.Join('.', parts);
    }

    private static async Task<HttpStatusCode> StreamStatusAsync(TestGateway gateway, string query)
    {
        using var response = await gateway.Http.GetAsync(new Uri($"/stream{query}", UriKind.Relative), HttpCompletionOption.ResponseHeadersRead, TestContext.Current.CancellationToken);
        return response.StatusCode;
    }

}
