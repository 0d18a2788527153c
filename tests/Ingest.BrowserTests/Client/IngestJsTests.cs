using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using Ingest.BrowserTests.Infrastructure;
using Ingest.Contracts;
using Ingest.Kafka.Embedded;
using Ingest.Testing;

namespace Ingest.BrowserTests.Client;

/// <summary>
/// ingest.js in Chromium, unit by unit, against a real gateway: each test loads the page with its
/// generator stopped (<c>rate=0</c>) and drives a client of its own with <c>page.evaluate</c>.
/// </summary>
public sealed class IngestJsTests(BrowserFixture browser)
{
    private static string NewClientId(string prefix) => $"{prefix}-{Guid.NewGuid():N}"[..(prefix.Length + 13)];

    private static Task<BrowserSession> OpenIdlePageAsync(BrowserFixture browser, TestGateway gateway) =>
        BrowserSession.OpenAsync(browser, new Uri(gateway.HttpUri, "/?rate=0&stream=0&stats=0"));

    [Fact]
    public async Task EventsQueuedWithinTheTimer_GoAsOneArrayMessage_FullBatchesAtOnce_OneEventAsAnObject()
    {
        await using var gateway = await TestGateway.StartAsync();
        await using var session = await OpenIdlePageAsync(browser, gateway);
        var clientId = NewClientId("batch");

        var result = await session.EvaluateAsync(
            """
            async ({ url, clientId }) => {
              const frames = [];
              const send = WebSocket.prototype.send;
              WebSocket.prototype.send = function (data) { frames.push(data); return send.call(this, data); };
              const c = new Ingest.Client({ url, clientId, flushIntervalMs: 200, maxBatch: 100 });
              await new Promise((resolve) => c.addEventListener("open", resolve, { once: true }));
              c.send({ msg: "single", seq: 0 });
              const framesBeforeTimer = frames.length;
              await c.idle();
              for (let i = 1; i <= 250; i++) c.send({ msg: "batched " + i, seq: i });
              const fullBatchesAtOnce = frames.length - 1;
              await c.idle();
              for (let i = 251; i <= 255; i++) c.send({ msg: "batched " + i, seq: i });
              await c.idle();
              return {
                framesBeforeTimer,
                fullBatchesAtOnce,
                shapes: frames.map((f) => (f[0] === "[" ? JSON.parse(f).length : "object")),
                stats: c.stats(),
              };
            }
            """,
            new { url = gateway.WebSocketUri.ToString(), clientId });

        Assert.Equal(0, result.GetProperty("framesBeforeTimer").GetInt32());
        Assert.Equal(2, result.GetProperty("fullBatchesAtOnce").GetInt32());
        Assert.Equal("""["object",100,100,50,5]""", result.GetProperty("shapes").GetRawText());
        Assert.Equal(256, result.GetProperty("stats").GetProperty("acked").GetInt64());
        Assert.Equal(5, result.GetProperty("stats").GetProperty("messages").GetInt64());
        // The gateway saw the same: 5 messages carrying 256 events (the page's own client is idle).
        var stats = gateway.Metrics.Snapshot(0, 0);
        Assert.Equal(5, stats.MessagesReceived);
        Assert.Equal(256, stats.EventsReceived);
        Assert.Equal(Enumerable.Range(0, 256).Select(i => (long)i), PageEvents.ReadSeqs(gateway, clientId, 256));
    }

    [Fact]
    public async Task Offline_KeepsTheNewestMaxBufferedEvents_CountsTheDropped_AndSendsTheRestWhenTheGatewayAppears()
    {
        await using var pageHost = await TestGateway.StartAsync();
        await using var session = await OpenIdlePageAsync(browser, pageHost);
        var clientId = NewClientId("offline");
        var port = FreePort();

        var offline = await session.EvaluateAsync<ClientCounters>(
            """
            ({ url, clientId }) => {
              const c = new Ingest.Client({ url, clientId, maxBuffered: 50, backoffMinMs: 100, backoffMaxMs: 400 });
              window.offlineClient = c;
              c.failedAttempts = 0;
              c.addEventListener("close", () => c.failedAttempts++);
              for (let i = 0; i < 80; i++) c.send({ msg: "offline " + i, seq: i });
              return c.stats();
            }
            """,
            new { url = $"ws://127.0.0.1:{port}/ws", clientId });
        // Nothing listens yet: the client retries, and loses nothing more while it does.
        await session.WaitForAsync("() => offlineClient.failedAttempts >= 3", "three failed connection attempts", diagnostics: "() => offlineClient.stats()");
        var retrying = await session.CountersAsync("offlineClient");

        await using var gateway = await TestGateway.StartAsync(port: port);
        await session.WaitForAsync("() => offlineClient.counters.acked === 50 && offlineClient.counters.buffered === 0", "the 50 buffered events acked", diagnostics: "() => offlineClient.stats()");
        var counters = await session.CountersAsync("offlineClient");

        Assert.Equal((0, 50, 30), (offline.Sent, offline.Buffered, offline.Dropped));
        Assert.Equal((0, 50, 30), (retrying.Sent, retrying.Buffered, retrying.Dropped));
        Assert.Equal((50, 50, 30, 0), (counters.Sent, counters.Acked, counters.Dropped, counters.Errors));
        // The oldest 30 were dropped; the newest 50 landed, in order.
        Assert.Equal(Enumerable.Range(30, 50).Select(i => (long)i), PageEvents.ReadSeqs(gateway, clientId, 50));
    }

    [Fact]
    public async Task UnackedMessages_AreResentFirstOnTheNextConnection_Renumbered_AndAllLand()
    {
        using var cluster = EmbeddedKafkaCluster.Start(brokerCount: 1);
        await using var gateway = await TestGateway.StartAsync(cluster: cluster);
        await using var session = await OpenIdlePageAsync(browser, gateway);
        var clientId = NewClientId("resend");
        // Without a broker nothing can be acked: the 3 messages stay unacked.
        cluster.SetBrokerDown(1);

        var sent = await session.EvaluateAsync<ClientCounters>(
            """
            async ({ url, clientId }) => {
              const c = new Ingest.Client({ url, clientId, flushIntervalMs: 10 });
              window.resendClient = c;
              c.acks = [];
              c.addEventListener("ack", (e) => c.acks.push(e.detail.upTo));
              await new Promise((resolve) => c.addEventListener("open", resolve, { once: true }));
              for (let m = 0; m < 3; m++) {
                for (let i = 0; i < 10; i++) c.send({ msg: "resend " + (m * 10 + i), seq: m * 10 + i });
                c.flush();
              }
              return c.stats();
            }
            """,
            new { url = gateway.WebSocketUri.ToString(), clientId });
        await Poll.UntilAsync(() => gateway.Metrics.Snapshot(0, 0).EventsReceived >= 30, "the gateway read the 30 events", BrowserSession.DefaultTimeout);

        await session.EvaluateAsync(
            """
            async () => {
              const c = resendClient;
              const opened = new Promise((resolve) => c.addEventListener("open", resolve, { once: true }));
              c.reconnect();
              await opened;
              for (let i = 30; i < 35; i++) c.send({ msg: "resend " + i, seq: i });
              c.flush();
              return c.stats();
            }
            """);
        var beforeBrokerUp = await session.CountersAsync("resendClient");
        cluster.SetBrokerUp(1);
        await session.WaitForAsync("() => resendClient.counters.acked === 35 && resendClient.counters.buffered === 0", "all 35 events acked", diagnostics: "() => resendClient.stats()");
        var counters = await session.CountersAsync("resendClient");
        var acks = await session.EvaluateAsync<long[]>("() => resendClient.acks");

        Assert.Equal((30, 3, 0), (sent.Sent, sent.Messages, sent.Acked));
        // On the new connection: the 3 unacked messages first, then the new one, numbered 1 to 4.
        Assert.Equal((30, 7, 1), (beforeBrokerUp.Resent, beforeBrokerUp.Messages, beforeBrokerUp.Reconnects));
        Assert.Equal(4, acks.Max());
        Assert.Equal((35, 35, 0), (counters.Sent, counters.Acked, counters.Errors));
        var inKafka = PageEvents.ReadSeqs(gateway, clientId, 35);
        Assert.Equal(Enumerable.Range(0, 35).Select(i => (long)i), inKafka.Distinct().Order());
        TestContext.Current.TestOutputHelper?.WriteLine($"resend: {inKafka.Count} records for 35 events ({inKafka.Count - 35} duplicates: the old connection's copies delivered too)");
    }

    [Fact]
    public async Task DeliveryFailed_CountsTheError_AndSendsTheMessageAgain()
    {
        using var cluster = EmbeddedKafkaCluster.Start(brokerCount: 1);
        await using var gateway = await TestGateway.StartAsync(new Dictionary<string, string?> { ["Ingest:Kafka:DeliveryTimeoutMs"] = "1500" }, cluster);
        await using var session = await OpenIdlePageAsync(browser, gateway);
        var clientId = NewClientId("failed");
        cluster.SetBrokerDown(1);

        await session.EvaluateAsync(
            """
            async ({ url, clientId }) => {
              const c = new Ingest.Client({ url, clientId });
              window.failingClient = c;
              c.codes = [];
              c.addEventListener("error", (e) => c.codes.push(e.detail.code));
              await new Promise((resolve) => c.addEventListener("open", resolve, { once: true }));
              for (let i = 0; i < 10; i++) c.send({ msg: "failing " + i, seq: i });
              c.flush();
              return c.stats();
            }
            """,
            new { url = gateway.WebSocketUri.ToString(), clientId });
        await session.WaitForAsync("() => failingClient.counters.errors >= 1 && failingClient.counters.resent >= 10", "delivery_failed and a resend", diagnostics: "() => failingClient.stats()");
        cluster.SetBrokerUp(1);
        await session.WaitForAsync("() => failingClient.counters.acked === 10 && failingClient.counters.buffered === 0", "the 10 events acked", diagnostics: "() => failingClient.stats()");
        var counters = await session.CountersAsync("failingClient");
        var codes = await session.EvaluateAsync<string[]>("() => failingClient.codes");

        Assert.All(codes, code => Assert.Equal(ErrorCodes.DeliveryFailed, code));
        Assert.Equal(counters.Errors, codes.Length);
        Assert.Equal((10, 10, 0, 0), (counters.Sent, counters.Acked, counters.Rejected, counters.Dropped));
        Assert.Equal(Enumerable.Range(0, 10).Select(i => (long)i), PageEvents.ReadSeqs(gateway, clientId, 10).Distinct().Order());
    }

    [Fact]
    public async Task InvalidEvent_IsCountedAsAnError_AndNotSentAgain()
    {
        await using var gateway = await TestGateway.StartAsync();
        await using var session = await OpenIdlePageAsync(browser, gateway);

        var result = await session.EvaluateAsync(
            """
            async ({ url }) => {
              const c = new Ingest.Client({ url, clientId: "invalid" });
              const errors = [];
              c.addEventListener("error", (e) => errors.push(e.detail));
              c.send({ msg: 42, seq: 1 });
              await c.flush();
              c.send({ msg: "fine", seq: 2 });
              await c.flush();
              return { errors, stats: c.stats() };
            }
            """,
            new { url = gateway.WebSocketUri.ToString() });

        var error = Assert.Single(result.GetProperty("errors").EnumerateArray());
        Assert.Equal(ErrorCodes.InvalidEvent, error.GetProperty("code").GetString());
        Assert.Equal(1, error.GetProperty("seq").GetInt64());
        var stats = result.GetProperty("stats").Deserialize<ClientCounters>(BrowserSession.Json)!;
        Assert.Equal((2, 1, 1, 1, 0, 0), (stats.Sent, stats.Acked, stats.Errors, stats.Rejected, stats.Resent, stats.Buffered));
    }

    [Fact]
    public async Task PageHiddenOrLeaving_SendsQueuedEventsWithoutWaitingForTheTimer()
    {
        await using var gateway = await TestGateway.StartAsync();
        await using var session = await OpenIdlePageAsync(browser, gateway);

        var result = await session.EvaluateAsync(
            """
            async ({ url }) => {
              // A timer that never fires within the test: only the page events can send.
              const c = new Ingest.Client({ url, clientId: "hidden", flushIntervalMs: 3600000 });
              await new Promise((resolve) => c.addEventListener("open", resolve, { once: true }));
              c.send({ msg: "before hide", seq: 1 });
              c.send({ msg: "before hide", seq: 2 });
              const queued = c.stats();
              Object.defineProperty(document, "visibilityState", { value: "hidden", configurable: true });
              document.dispatchEvent(new Event("visibilitychange"));
              await c.idle();
              const afterHidden = c.stats();
              c.send({ msg: "before pagehide", seq: 3 });
              window.dispatchEvent(new PageTransitionEvent("pagehide", { persisted: false }));
              await c.idle();
              return { queued, afterHidden, afterPageHide: c.stats() };
            }
            """,
            new { url = gateway.WebSocketUri.ToString() });

        var queued = result.GetProperty("queued").Deserialize<ClientCounters>(BrowserSession.Json)!;
        var afterHidden = result.GetProperty("afterHidden").Deserialize<ClientCounters>(BrowserSession.Json)!;
        var afterPageHide = result.GetProperty("afterPageHide").Deserialize<ClientCounters>(BrowserSession.Json)!;
        Assert.Equal((0, 2), (queued.Sent, queued.Buffered));
        Assert.Equal((2, 2, 1), (afterHidden.Sent, afterHidden.Acked, afterHidden.Messages));
        Assert.Equal((3, 3, 2), (afterPageHide.Sent, afterPageHide.Acked, afterPageHide.Messages));
    }

    [Fact]
    public async Task Draining_NextAttemptComesAfterTheHintedDelay_NotAfterTheBackoff()
    {
        await using var gateway = await TestGateway.StartAsync(new Dictionary<string, string?> { ["Ingest:Shutdown:ReconnectWindowMs"] = "1000" });
        await using var session = await OpenIdlePageAsync(browser, gateway);
        await session.EvaluateAsync(
            """
            async ({ url }) => {
              // A backoff far longer than any hint (10 to 20 s): an attempt within seconds is the hint's.
              const c = new Ingest.Client({ url, clientId: "draining", backoffMinMs: 20000, backoffMaxMs: 20000 });
              window.drainingClient = c;
              c.seen = [];
              c.addEventListener("draining", (e) => c.seen.push({ type: "draining", ms: e.detail.reconnectAfterMs, at: performance.now() }));
              c.addEventListener("close", (e) => c.seen.push({ type: "close", code: e.detail.code, ms: e.detail.reconnectInMs, at: performance.now() }));
              await new Promise((resolve) => c.addEventListener("open", resolve, { once: true }));
              c.send({ msg: "before the shutdown", seq: 1 });
              await c.flush();
              return c.stats();
            }
            """,
            new { url = gateway.WebSocketUri.ToString() });

        // The gateway goes away for good: the hinted attempt fails, and the next one waits for the backoff.
        await gateway.StopAsync();
        await session.WaitForAsync("() => drainingClient.seen.filter((e) => e.type === 'close').length >= 2", "the draining close and the failed hinted attempt", diagnostics: "() => drainingClient.seen");
        var seen = (await session.EvaluateAsync("() => drainingClient.seen")).EnumerateArray().ToArray();

        Assert.Equal(["draining", "close", "close"], seen.Take(3).Select(e => e.GetProperty("type").GetString()));
        var hint = seen[0].GetProperty("ms").GetInt32();
        Assert.InRange(hint, 0, 1000);
        Assert.Equal(CloseCodes.GoingAway, seen[1].GetProperty("code").GetInt32());
        Assert.Equal(hint, seen[1].GetProperty("ms").GetInt32());
        var attemptAfter = seen[2].GetProperty("at").GetDouble() - seen[1].GetProperty("at").GetDouble();
        Assert.InRange(attemptAfter, hint - 1, hint + 5_000);
        Assert.InRange(seen[2].GetProperty("ms").GetInt32(), 10_000, 20_000);
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
