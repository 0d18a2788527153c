using Ingest.BrowserTests.Infrastructure;
using Ingest.Testing;
using Microsoft.Playwright;

namespace Ingest.BrowserTests.Page;

/// <summary>The test page served over https (docs/operations.md, "TLS"): nothing of it goes over plain ws:// or http://.</summary>
public sealed class HttpsPageTests(BrowserFixture browser)
{
    [Fact]
    public async Task PageOverHttps_SendsOverWss_StreamsAndPollsStatsOverHttps_WithItsKey()
    {
        using var certificate = TestCertificate.Create();
        var settings = certificate.HttpsEndpoint;
        settings["Ingest:Auth:ApiKeys:0"] = "page-key";
        settings["Ingest:Management:RequireApiKey"] = "true";
        await using var gateway = await TestGateway.StartAsync(settings);
        var clientId = $"https-page-{Guid.NewGuid():N}"[..20];

        await using var session = await BrowserSession.OpenAsync(browser, new Uri(gateway.HttpUri, $"/?clientId={clientId}&rate=20&access_token=page-key"), ignoreHttpsErrors: true);
        await session.WaitForAsync("() => ingestPage.client.counters.acked >= 10", "10 acked events");
        await Assertions.Expect(session.Page.Locator("#stream-state")).ToHaveTextAsync("live", new() { Timeout = 60_000 });
        await Assertions.Expect(session.Page.Locator("#stats-state")).ToHaveTextAsync("live", new() { Timeout = 60_000 });
        // The live charts need no request of their own: they plot what the client counts.
        await session.WaitForAsync("() => ingestChart.points.some((p) => p.acked > 0 && p.rtts > 0)", "a charted second with acks and round trips");
        var socketUrl = await session.EvaluateAsync<string>("() => ingestPage.client.url");
        var streamUrl = await session.EvaluateAsync<string>("() => ingestPage.stream.source.url");
        // Finished requests (a stream still open is not among them).
        var requested = await session.EvaluateAsync<string[]>("() => performance.getEntriesByType('resource').map((e) => e.name)");

        Assert.StartsWith($"https://127.0.0.1:{gateway.HttpUri.Port}/", session.Page.Url, StringComparison.Ordinal);
        Assert.StartsWith($"wss://127.0.0.1:{gateway.HttpUri.Port}/ws?", socketUrl, StringComparison.Ordinal);
        Assert.StartsWith($"https://127.0.0.1:{gateway.HttpUri.Port}/stream?", streamUrl, StringComparison.Ordinal);
        Assert.Contains(requested, r => r.Contains("/stats?access_token=", StringComparison.Ordinal));
        Assert.All(requested, r => Assert.StartsWith("https://", r, StringComparison.Ordinal));
        Assert.NotEmpty(PageEvents.ReadSeqs(gateway, clientId, 10));
    }
}
