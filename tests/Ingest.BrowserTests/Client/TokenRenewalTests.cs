using Ingest.BrowserTests.Infrastructure;
using Ingest.Testing;

namespace Ingest.BrowserTests.Client;

/// <summary>
/// ingest.js with short-lived tokens (docs/browser-client.md): a page whose token expired keeps
/// retrying and loses nothing; <c>setApiKey</c> with a fresh token from its backend gets it through.
/// </summary>
public sealed class TokenRenewalTests(BrowserFixture browser)
{
    [Fact]
    public async Task ExpiredToken_ClientRetries_SetApiKeyWithAFreshOne_ConnectsAndSendsWhatItBuffered()
    {
        var (secret, base64) = TestTokens.NewSecret();
        await using var gateway = await TestGateway.StartAsync(new Dictionary<string, string?>
        {
            ["Ingest:Auth:Tokens:Keys:0:Id"] = "backend-1",
            ["Ingest:Auth:Tokens:Keys:0:Secret"] = base64,
        });
        var clientId = $"token-{Guid.NewGuid():N}"[..20];
        var pageToken = TestTokens.Mint("backend-1", secret, DateTimeOffset.UtcNow.AddMinutes(5));
        var expired = TestTokens.Mint("backend-1", secret, DateTimeOffset.UtcNow.AddMinutes(-5), clientId);
        var fresh = TestTokens.Mint("backend-1", secret, DateTimeOffset.UtcNow.AddMinutes(5), clientId);
        await using var session = await BrowserSession.OpenAsync(browser, new Uri(gateway.HttpUri, $"/?rate=0&stream=0&stats=0&access_token={pageToken}"));

        await session.EvaluateAsync(
            """
            ({ url, clientId, expired }) => {
              const c = new Ingest.Client({ url, clientId, apiKey: expired, backoffMinMs: 100, backoffMaxMs: 400 });
              window.tokenClient = c;
              c.failedAttempts = 0;
              c.addEventListener("close", () => c.failedAttempts++);
              for (let i = 0; i < 5; i++) c.send({ msg: "with a token " + i, seq: i });
            }
            """,
            new { url = gateway.WebSocketUri.ToString(), clientId, expired });
        await session.WaitForAsync("() => tokenClient.failedAttempts >= 2", "two refused connection attempts", diagnostics: "() => tokenClient.stats()");
        var refused = await session.CountersAsync("tokenClient");

        await session.EvaluateAsync("({ fresh }) => tokenClient.setApiKey(fresh)", new { fresh });
        await session.WaitForAsync("() => tokenClient.counters.acked === 5", "the 5 buffered events acked", diagnostics: "() => tokenClient.stats()");

        Assert.Equal((0, 5), (refused.Acked, refused.Buffered));
        Assert.Equal(0, (await session.CountersAsync("tokenClient")).Errors);
        Assert.Equal(Enumerable.Range(0, 5).Select(i => (long)i), PageEvents.ReadSeqs(gateway, clientId, 5));
    }
}
