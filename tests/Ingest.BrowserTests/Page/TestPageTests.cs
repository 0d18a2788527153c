using System.Diagnostics;
using System.Globalization;
using Ingest.BrowserTests.Infrastructure;
using Ingest.IntegrationTests.Infrastructure;
using Ingest.Kafka.Embedded;
using Microsoft.Playwright;

namespace Ingest.BrowserTests.Page;

/// <summary>The test page at <c>/</c> in Chromium against a real gateway and Kafka.</summary>
public sealed class TestPageTests(BrowserFixture browser)
{
    /// <summary>Saves a full-page screenshot as a test artifact and prints its path.</summary>
    private static async Task SaveScreenshotAsync(BrowserSession session, string name)
    {
        var path = Artifacts.PathFor("screenshots", name);
        await session.Page.ScreenshotAsync(new PageScreenshotOptions { Path = path, FullPage = true });
        TestContext.Current.TestOutputHelper?.WriteLine($"screenshot: {path}");
    }

    private static string NewClientId() => $"page-test-{Guid.NewGuid():N}"[..20];

    [Fact]
    public async Task Page_StreamsTwentyPerSecond_EveryAckedEventIsInKafka_AndSentEqualsAckedWhenIdle()
    {
        await using var gateway = await TestGateway.StartAsync();
        var clientId = NewClientId();
        await using var session = await BrowserSession.OpenAsync(browser, new Uri(gateway.HttpUri, $"/?clientId={clientId}&rate=20"));

        await session.WaitForAsync("() => ingestPage.client.counters.acked >= 60", "60 acked events");
        await session.Page.ClickAsync("#pause");
        await session.WaitForAsync("() => { const c = ingestPage.client.counters; return c.buffered === 0 && c.sent === c.acked; }", "idle");
        var counters = await session.CountersAsync();
        var acked = await session.EvaluateAsync<long[]>("() => ingestPage.ackedSeqs");

        // The page shows the client's counters.
        await Assertions.Expect(session.Page.Locator("#sent")).ToHaveTextAsync(counters.Sent.ToString(CultureInfo.InvariantCulture));
        await Assertions.Expect(session.Page.Locator("#acked")).ToHaveTextAsync(counters.Acked.ToString(CultureInfo.InvariantCulture));
        await Assertions.Expect(session.Page.Locator("#state")).ToHaveTextAsync("open");
        Assert.Equal(counters.Sent, counters.Acked);
        Assert.Equal(0, counters.Errors + counters.Dropped + counters.Resent);
        Assert.Equal(Enumerable.Range(1, (int)counters.Sent).Select(i => (long)i), acked.Order());

        var inKafka = PageEvents.ReadSeqs(gateway, clientId, (int)counters.Acked);
        Assert.Equal(acked.Order(), inKafka.Order());
        Assert.Equal(inKafka.Order(), inKafka); // one connection, one clientId: in the order sent
        await SaveScreenshotAsync(session, "page.png");
    }

    [Fact]
    public async Task Page_RateControl_ChangesTheRateLive()
    {
        await using var gateway = await TestGateway.StartAsync();
        await using var session = await BrowserSession.OpenAsync(browser, new Uri(gateway.HttpUri, $"/?clientId={NewClientId()}&rate=0"));
        Assert.Equal(0, await session.EvaluateAsync<long>("() => ingestPage.generated()"));

        var clock = Stopwatch.StartNew();
        await session.Page.FillAsync("#rate", "200");
        await session.WaitForAsync("() => ingestPage.generated() >= 200", "200 events generated at 200/s");
        var elapsed = clock.Elapsed;
        await session.Page.FillAsync("#rate", "0");
        var generated = await session.EvaluateAsync<long>("() => ingestPage.generated()");
        await session.WaitForAsync("() => ingestPage.client.counters.buffered === 0", "idle");
        var counters = await session.CountersAsync();

        // Paced on the clock: the first event at once, the 200th after 995 ms, never earlier.
        Assert.True(elapsed >= TimeSpan.FromMilliseconds(990), $"200 events at 200/s took only {elapsed}");
        Assert.Equal(generated, await session.EvaluateAsync<long>("() => ingestPage.generated()"));
        Assert.Equal(generated, counters.Sent);
        Assert.Equal(generated, counters.Acked);
        await Assertions.Expect(session.Page.Locator("#rate-slider")).ToHaveValueAsync("0");
        await Assertions.Expect(session.Page.Locator("#pause")).ToHaveTextAsync("Resume");
    }

    [Fact]
    public async Task GatewayRestartOnTheSamePort_PageBuffersReconnectsResends_EveryAckedEventIsInKafka()
    {
        var settings = new Dictionary<string, string?> { ["Ingest:Shutdown:ReconnectWindowMs"] = "300" };
        using var cluster = EmbeddedKafkaCluster.Start(brokerCount: 1);
        await using var first = await TestGateway.StartAsync(settings, cluster);
        var clientId = NewClientId();
        await using var session = await BrowserSession.OpenAsync(browser, new Uri(first.HttpUri, $"/?clientId={clientId}&rate=20&backoffMin=100&backoffMax=800"));
        await session.WaitForAsync("() => ingestPage.client.counters.acked >= 40", "40 acked events");

        await first.StopAsync();
        // While the gateway is away the page keeps generating and buffering.
        await session.WaitForAsync("() => ingestPage.client.state !== 'open' && ingestPage.client.counters.buffered >= 20", "events buffered while offline");
        var offline = await session.CountersAsync();
        await using var second = await TestGateway.StartAsync(settings, cluster, port: first.HttpUri.Port, topic: first.Topic);

        await session.WaitForAsync($"() => ingestPage.client.counters.reconnects >= 1 && ingestPage.client.counters.acked >= {offline.Acked + offline.Buffered + 20}", "reconnect and 20 more acked events");
        await session.Page.ClickAsync("#pause");
        await session.WaitForAsync("() => { const c = ingestPage.client.counters; return c.buffered === 0 && c.sent === c.acked; }", "idle");
        var counters = await session.CountersAsync();
        var acked = await session.EvaluateAsync<long[]>("() => ingestPage.ackedSeqs");

        var inKafka = PageEvents.ReadSeqs(second, clientId, (int)counters.Acked);
        var landed = inKafka.ToHashSet();
        var missing = acked.Where(seq => !landed.Contains(seq)).ToArray();
        var duplicates = inKafka.Count - landed.Count;
        TestContext.Current.TestOutputHelper?.WriteLine(
            $"restart: sent {counters.Sent}, acked {counters.Acked}, resent {counters.Resent}, reconnects {counters.Reconnects}, buffered while offline {offline.Buffered}; in Kafka {inKafka.Count} records, {landed.Count} distinct, {duplicates} duplicates");
        Assert.Empty(missing);
        Assert.Equal(0, counters.Dropped);
        Assert.True(counters.Reconnects >= 1);
        Assert.Equal(Enumerable.Range(1, (int)counters.Sent).Select(i => (long)i), landed.Order());
        Assert.Equal(counters.Sent, acked.Distinct().Count());
    }
}
