using System.Diagnostics;
using System.Globalization;
using Ingest.BrowserTests.Infrastructure;
using Ingest.Kafka.Embedded;
using Ingest.Testing;
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
    }

    [Fact]
    public async Task Page_ShowsItsOwnEventsComingBackThroughStream_WithRoundTripTimes()
    {
        await using var gateway = await TestGateway.StartAsync();
        var clientId = NewClientId();
        await using var session = await BrowserSession.OpenAsync(browser, new Uri(gateway.HttpUri, $"/?clientId={clientId}&rate=20"));
        await Assertions.Expect(session.Page.Locator("#stream-state")).ToHaveTextAsync("live", new() { Timeout = 60_000 });

        // Another client on the same topic: the page asked /stream for its own clientId only.
        await session.EvaluateAsync(
            """
            async ({ url }) => {
              const other = new Ingest.Client({ url, clientId: "someone-else" });
              for (let i = 0; i < 20; i++) other.send({ msg: "not for this page", seq: -1 });
              await other.flush();
              other.close();
            }
            """,
            new { url = gateway.WebSocketUri.ToString() });
        var rows = session.Page.Locator("#stream-rows tr");
        await session.WaitForAsync($"() => document.querySelectorAll('#stream-rows tr[data-client-id=\"{clientId}\"]').length >= 40", "40 rows streamed back");
        await session.Page.ClickAsync("#pause");
        await session.WaitForAsync("() => ingestPage.client.counters.buffered === 0", "idle");
        var acked = await session.EvaluateAsync<long[]>("() => ingestPage.ackedSeqs");
        // Live from the moment /stream was ready: every acked event after the first streamed one comes back.
        await session.WaitForAsync(
            "() => { const s = ingestPage.stream.seqs; const first = Math.min(...s); return ingestPage.ackedSeqs.filter((q) => q >= first).every((q) => s.includes(q)); }",
            "every acked event after the first streamed one",
            diagnostics: "() => ({ streamed: ingestPage.stream.seqs, acked: ingestPage.ackedSeqs })");
        var streamed = await session.EvaluateAsync<long[]>("() => ingestPage.stream.seqs");

        Assert.Empty(await session.Page.Locator("#stream-rows tr:not([data-client-id=\"" + clientId + "\"])").AllAsync());
        Assert.Subset(acked.ToHashSet(), streamed.ToHashSet());
        Assert.Equal(streamed.Length, streamed.Distinct().Count());
        await Assertions.Expect(session.Page.Locator("#stream-received")).ToHaveTextAsync(streamed.Length.ToString(CultureInfo.InvariantCulture));
        foreach (var cell in await session.Page.Locator("#stream-rows td.rt").AllTextContentsAsync())
        {
            Assert.Matches("^[0-9]+ ms$", cell);
            Assert.InRange(int.Parse(cell.Split(' ')[0], CultureInfo.InvariantCulture), 0, 30_000);
        }

        var newest = rows.First;
        await Assertions.Expect(newest.Locator("td").Nth(1)).ToHaveTextAsync($"page event {streamed.Max()}");
        TestContext.Current.TestOutputHelper?.WriteLine(
            $"stream: {streamed.Length} of {acked.Length} acked events streamed back; round trip avg {await session.Page.Locator("#rt-avg").TextContentAsync()}, max {await session.Page.Locator("#rt-max").TextContentAsync()}");
        await SaveScreenshotAsync(session, "page.png");
    }

    [Fact]
    public async Task Page_ChartsItsSendRateAndRoundTripLive_OnePointASecond_CountingEveryEventOnce()
    {
        await using var gateway = await TestGateway.StartAsync();
        await using var session = await BrowserSession.OpenAsync(browser, new Uri(gateway.HttpUri, $"/?clientId={NewClientId()}&rate=20&stream=0&stats=0"));

        await session.WaitForAsync("() => ingestChart.length >= 3 && ingestChart.points.some((p) => p.rtts > 0)", "three points, with round trips");
        await session.Page.ClickAsync("#pause");
        await session.WaitForAsync("() => { const c = ingestPage.client.counters; return c.buffered === 0 && c.sent === c.acked; }", "idle");
        // One more point once idle: every event sent and acked is then in exactly one point.
        var draws = await session.EvaluateAsync<int>("() => ingestChart.draws");
        await session.WaitForAsync($"() => ingestChart.draws > {draws} && ingestChart.length > 0", "a point after the last ack");
        var points = await session.EvaluateAsync<ChartPoint[]>("() => ingestChart.points");
        var counters = await session.CountersAsync();

        Assert.True(counters.Acked >= 40, $"{counters}");
        Assert.Equal(counters.Sent, points.Sum(p => p.Sent));
        Assert.Equal(counters.Acked, points.Sum(p => p.Acked));
        // Each acked event's round trip is in the point of the second its ack came in.
        Assert.Equal(counters.Acked, points.Sum(p => p.Rtts));
        Assert.All(points.Where(p => p.Rtts > 0), p => Assert.True(p.RttP50 <= p.RttP99 && p.RttP99 <= p.RttMax && p.RttMax <= 30_000, $"{p}"));
        Assert.All(points.Where(p => p.Rtts == 0), p => Assert.Null(p.RttP50));
        Assert.All(points, p => Assert.Equal(p.Sent / p.Seconds, p.SentPerSecond, 6));
        // Paced at 20 events/s: a whole second of sending has about 20.
        Assert.Contains(points, p => p.SentPerSecond is >= 10 and <= 40);
        Assert.All(points.Zip(points.Skip(1)), pair => Assert.True(pair.Second.T > pair.First.T));
        await Assertions.Expect(session.Page.Locator("#charts")).ToHaveAttributeAsync("data-points", points.Length.ToString(CultureInfo.InvariantCulture));

        // Both canvases were drawn on: pixels of the acked line (blue) and of the p50 line (green).
        Assert.True(await CanvasHasAsync(session, "chart-rate", "b - r > 80 && b - g > 60"), "the acked line is drawn");
        Assert.True(await CanvasHasAsync(session, "chart-rtt", "g - r > 50 && g - b > 20"), "the round trip p50 line is drawn");
        await SaveScreenshotAsync(session, "page-chart.png");
    }

    /// <summary>Whether the canvas has a painted pixel whose colour satisfies <paramref name="condition"/> (in r, g, b).</summary>
    private static Task<bool> CanvasHasAsync(BrowserSession session, string canvasId, string condition) =>
        session.EvaluateAsync<bool>(
            $$"""
            () => {
              const canvas = document.getElementById("{{canvasId}}");
              const data = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
              for (let i = 0; i < data.length; i += 4) {
                const r = data[i], g = data[i + 1], b = data[i + 2], a = data[i + 3];
                if (a > 100 && {{condition}}) return true;
              }
              return false;
            }
            """);

    /// <summary>One point of <c>window.ingestChart</c>.</summary>
    private sealed record ChartPoint(
        double T, double Seconds, long Sent, long Acked, double SentPerSecond, double AckedPerSecond, long Rtts, double? RttP50, double? RttP99, double? RttMax);

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
    public async Task ResentEvents_LandTwice_AndThePageCountsTheDuplicatesItStreams()
    {
        using var cluster = EmbeddedKafkaCluster.Start(brokerCount: 1);
        await using var gateway = await TestGateway.StartAsync(cluster: cluster);
        var clientId = NewClientId();
        await using var session = await BrowserSession.OpenAsync(browser, new Uri(gateway.HttpUri, $"/?clientId={clientId}&rate=20"));
        await session.WaitForAsync("() => ingestPage.client.counters.acked >= 10 && ingestPage.stream.received >= 10", "10 events acked and streamed back");

        // Kafka stops answering: the gateway reads the page's events but cannot ack them. Then the
        // connection drops (as on a network blip): the page resends what was not acked, while the
        // gateway still holds the first copies for Kafka. Both land once the broker is back.
        cluster.SetBrokerDown(1);
        await session.WaitForAsync("() => { const c = ingestPage.client.counters; return c.sent - c.acked >= 10; }", "10 events sent and not acked");
        await session.EvaluateAsync("() => ingestPage.client.reconnect()");
        await session.WaitForAsync("() => ingestPage.client.counters.resent >= 10", "the unacked events resent");
        await session.Page.ClickAsync("#pause");
        cluster.SetBrokerUp(1);
        await session.WaitForAsync("() => { const c = ingestPage.client.counters; return c.buffered === 0 && c.sent === c.acked; }", "idle", diagnostics: "() => ingestPage.client.stats()");
        var counters = await session.CountersAsync();

        var records = (int)Ingest.Kafka.TopicWatermarks.CountRecords(gateway.Kafka.BootstrapServers, gateway.Topic, TimeSpan.FromSeconds(30));
        var inKafka = PageEvents.ReadSeqs(gateway, clientId, records);
        var kafkaDuplicates = inKafka.Count - inKafka.Distinct().Count();
        // The page starts sending before its /stream is live: it streams every record from its
        // first streamed event on (one clientId, one partition, in offset order).
        var firstStreamed = await session.EvaluateAsync<long>("() => Math.min(...ingestPage.stream.seqs)");
        var streamable = inKafka.SkipWhile(seq => seq != firstStreamed).ToList();
        await session.WaitForAsync($"() => ingestPage.stream.received >= {streamable.Count}", "every record from the first streamed one on", diagnostics: "() => ({ received: ingestPage.stream.received, seqs: ingestPage.stream.seqs.join(',') })");
        var pageDuplicates = await session.EvaluateAsync<long>("() => ingestPage.stream.duplicates");
        TestContext.Current.TestOutputHelper?.WriteLine($"resend: sent {counters.Sent}, resent {counters.Resent}, acked {counters.Acked}; Kafka {inKafka.Count} records, {kafkaDuplicates} duplicates; the page streamed from seq {firstStreamed} and counted {pageDuplicates}");
        Assert.Equal(streamable.Count, await session.EvaluateAsync<long>("() => ingestPage.stream.received"));

        Assert.Equal(Enumerable.Range(1, (int)counters.Sent).Select(i => (long)i), inKafka.Distinct().Order());
        Assert.True(kafkaDuplicates > 0, "no event landed twice: the resend was not exercised");
        Assert.Equal(0, await session.EvaluateAsync<long>("() => ingestPage.stream.dropped"));
        Assert.Equal(streamable.Count - streamable.Distinct().Count(), pageDuplicates);
        await Assertions.Expect(session.Page.Locator("#stream-duplicates")).ToHaveTextAsync(pageDuplicates.ToString(CultureInfo.InvariantCulture));
    }

    [Fact]
    public async Task GatewayRestartOnTheSamePort_PageBuffersAndReconnects_EveryAckedEventIsInKafka_AndTheStreamResumes()
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
        // The page's EventSource came back too: events generated after the restart stream back.
        await session.WaitForAsync(
            $"() => ingestPage.stream.seqs.some((q) => q > {offline.Acked + offline.Buffered})",
            "an event from after the restart back through /stream",
            diagnostics: "() => ({ state: document.getElementById('stream-state').textContent, seqs: ingestPage.stream.seqs.slice(-5) })");
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

        // The page counts what came back twice through /stream (resends may duplicate): its count
        // matches the seqs it streamed, shows on the page, and cannot exceed Kafka's duplicates.
        var streamed = await session.EvaluateAsync<long[]>("() => ingestPage.stream.seqs");
        var pageDuplicates = await session.EvaluateAsync<long>("() => ingestPage.stream.duplicates");
        Assert.Equal(streamed.Length - streamed.Distinct().Count(), pageDuplicates);
        Assert.Equal(pageDuplicates.ToString(CultureInfo.InvariantCulture), await session.Page.TextContentAsync("#stream-duplicates"));
        Assert.InRange(pageDuplicates, 0, duplicates);
    }
}
