using System.Net;
using System.Net.WebSockets;
using System.Text;
using Ingest.Contracts;
using Ingest.Testing;

namespace Ingest.IntegrationTests.Observability;

/// <summary>
/// <c>GET /metrics</c> (docs/operations.md, "Metrics"): after a known load, each instrument of the
/// gateway's meter has moved by exactly what was done, with the right tags, in the Prometheus text
/// format; <c>/stats</c> reads the same totals; librdkafka's statistics and the built-in ASP.NET
/// Core, Kestrel and runtime meters are there too.
/// </summary>
[Collection(TelemetryCollection.Name)]
public sealed class MetricsEndpointTests
{
    private const int MaxMessageBytes = 64 * 1024;
    private const int QueueKbytes = 32 * 1024;

    private static readonly (string Label, string Value) Scope = ("otel_scope_name", "Ingest.Gateway");

    [Fact]
    public async Task AfterAKnownLoad_EachInstrumentMovedByExactlyWhatWasDone_WithItsTags()
    {
        await using var gateway = await TestGateway.StartAsync(new Dictionary<string, string?>
        {
            ["Ingest:WebSocket:MaxMessageBytes"] = $"{MaxMessageBytes}",
            ["Ingest:Kafka:StatisticsIntervalMs"] = "200",
            ["Ingest:Kafka:QueueBufferingMaxKbytes"] = $"{QueueKbytes}",
        });
        await using var stream = await SseClient.ConnectAsync(gateway.HttpUri);
        await stream.WaitForReadyAsync();
        var sizes = new List<int>();

        // Connection A: three valid messages (six events), four invalid ones with known codes, then a normal close (1000).
        await using (var a = await TestClient.ConnectAsync(gateway.WebSocketUri))
        {
            string[] valid =
            [
                "[" + string.Join(',', Enumerable.Range(1, 4).Select(Event)) + "]",
                Event(5),
                Event(6),
            ];
            string[] invalid =
            [
                "not json",
                "{\"msg\":\"no clientId or timestamp\"}",
                "[" + string.Join(',', Enumerable.Repeat(Event(0), 1001)) + "]",
            ];
            foreach (var message in valid.Concat(invalid))
            {
                await a.SendAsync(message);
                sizes.Add(Encoding.UTF8.GetByteCount(message));
            }

            var binary = Encoding.UTF8.GetBytes(Event(7));
            await a.SendAsync(binary, WebSocketMessageType.Binary);
            sizes.Add(binary.Length);
            await a.WaitForAckAsync(7);
            Assert.Equal(
                [ErrorCodes.InvalidJson, ErrorCodes.InvalidEvent, ErrorCodes.BatchTooLarge, ErrorCodes.BinaryNotSupported],
                a.Errors.OrderBy(e => e.Seq).Select(e => e.Code));
            await a.CloseAsync();
            Assert.Equal(WebSocketCloseStatus.NormalClosure, a.CloseStatus);
        }

        // Connection B: a message over the size limit (1009); what is kept of it is its first MaxMessageBytes bytes.
        await using (var b = await TestClient.ConnectAsync(gateway.WebSocketUri))
        {
            await b.SendAsync(new string('x', MaxMessageBytes + 5000));
            await b.WaitForCloseAsync();
            Assert.Equal(WebSocketCloseStatus.MessageTooBig, b.CloseStatus);
            sizes.Add(MaxMessageBytes);
        }

        // Connection C: one valid event, then the client vanishes without a close frame.
        var c = await TestClient.ConnectAsync(gateway.WebSocketUri);
        await c.SendAndWaitAckAsync(Event(8));
        sizes.Add(Encoding.UTF8.GetByteCount(Event(8)));
        c.Abort();

        await stream.WaitUntilAsync(() => stream.TelemetryCount == 7, "the 7 events on /stream");
        var metrics = await ScrapeUntilAsync(
            gateway.Http,
            m => Sum(m, "ingest_connections_closed_total") == 3
                && Sum(m, "ingest_dead_letters_total") == 5
                && Sum(m, "ingest_stream_events_total") == 7
                && m.Find("ingest_kafka_broker_rtt_avg_seconds").Count > 0,
            "the three connections closed, the five dead letters written, the seven events streamed and librdkafka's statistics");

        Assert.Equal("counter", metrics.Types["ingest_messages_received_total"]);
        AssertTagged(metrics, "ingest_messages_received_total", "outcome", new()
        {
            ["accepted"] = 4,
            [ErrorCodes.InvalidJson] = 1,
            [ErrorCodes.InvalidEvent] = 1,
            [ErrorCodes.BatchTooLarge] = 1,
            [ErrorCodes.BinaryNotSupported] = 1,
            [ErrorCodes.MessageTooLarge] = 1,
            [ErrorCodes.ClientIdMismatch] = 0,
            [ErrorCodes.InvalidUtf8] = 0,
            [ErrorCodes.ProtocolError] = 0,
            ["dropped"] = 0,
            ["other"] = 0,
        });
        AssertTagged(metrics, "ingest_events_received_total", "outcome", new() { ["accepted"] = 7, [ErrorCodes.ClientIdMismatch] = 0 });
        AssertTagged(metrics, "ingest_connections_closed_total", "close_code", new()
        {
            ["1000"] = 1,
            ["1009"] = 1,
            ["none"] = 1,
            ["1001"] = 0,
            ["1002"] = 0,
            ["1007"] = 0,
            ["1008"] = 0,
            ["1011"] = 0,
            ["other"] = 0,
        });
        AssertTagged(metrics, "ingest_dead_letters_total", "outcome", new() { ["written"] = 5, ["failed"] = 0 });
        AssertTagged(metrics, "ingest_stream_events_total", "outcome", new() { ["delivered"] = 7, ["dropped"] = 0 });
        AssertTagged(metrics, "ingest_connections_refused_total", "reason", new() { ["too_many_connections"] = 0, ["too_many_connections_from_address"] = 0, ["other"] = 0 });
        Assert.Equal(3, metrics.Value("ingest_connections_opened_total", Scope));
        Assert.Equal(0, metrics.Value("ingest_connections_active", Scope));
        Assert.Equal("gauge", metrics.Types["ingest_connections_active"]);
        Assert.Equal(7, metrics.Value("ingest_events_delivered_total", Scope));
        Assert.Equal(0, metrics.Value("ingest_messages_delivery_failed_total", Scope));
        Assert.Equal(0, metrics.Value("ingest_messages_timed_out_total", Scope));
        Assert.Equal(1, metrics.Value("ingest_stream_subscribers", Scope));
        Assert.Equal(0, metrics.Value("ingest_channel_depth", Scope));
        Assert.Equal(4096, metrics.Value("ingest_channel_capacity", Scope));
        var acks = metrics.Value("ingest_acks_sent_total", Scope);
        Assert.InRange(acks, 3, 11); // coalesced: at least one per connection that was acked, at most one per message plus final acks

        // Histograms: one size per message received (the oversize one as far as it was kept), one
        // send-to-ack time per acked message, one produce time per message that went to Kafka
        // (events and dead letters), and every record in some Kafka batch.
        Assert.Equal("histogram", metrics.Types["ingest_message_size_bytes"]);
        Assert.Equal(sizes.Count, metrics.Value("ingest_message_size_bytes_count", Scope));
        Assert.Equal(sizes.Sum(), metrics.Value("ingest_message_size_bytes_sum", Scope));
        Assert.Equal(sizes.Count(s => s <= 128), metrics.Value("ingest_message_size_bytes_bucket", Scope, ("le", "128")));
        Assert.Equal(8, metrics.Value("ingest_message_ack_duration_seconds_count", Scope));
        Assert.Equal(8, metrics.Value("ingest_message_ack_duration_seconds_bucket", Scope, ("le", "+Inf")));
        Assert.Equal(9, metrics.Value("ingest_kafka_produce_duration_seconds_count", Scope));
        Assert.Equal(12, metrics.Value("ingest_kafka_batch_size_sum", Scope));
        Assert.InRange(metrics.Value("ingest_kafka_batch_size_count", Scope), 1, 9);

        // librdkafka's statistics: the broker the producer talks to, and the queue limit the configuration set.
        var broker = Assert.Single(metrics.Find("ingest_kafka_broker_rtt_avg_seconds", Scope)).Labels["broker"];
        Assert.EndsWith("/1", broker, StringComparison.Ordinal);
        Assert.InRange(metrics.Value("ingest_kafka_broker_rtt_p99_seconds", Scope, ("broker", broker)), 0, 5);
        Assert.Equal(0, metrics.Value("ingest_kafka_broker_tx_errors_total", Scope, ("broker", broker)));
        Assert.Single(metrics.Find("ingest_kafka_broker_waitresp_requests", Scope, ("broker", broker)));
        Assert.Single(metrics.Find("ingest_kafka_broker_outbuf_requests", Scope, ("broker", broker)));
        Assert.Equal(QueueKbytes * 1024.0, metrics.Value("ingest_kafka_producer_queue_size_limit_bytes", Scope));

        // /stats is read from the same totals.
        var stats = GatewayStats.Parse(await gateway.Http.GetStringAsync(new Uri("/stats", UriKind.Relative), TestContext.Current.CancellationToken));
        Assert.Equal((9L, 5L, 7L, 7L, 5L, 3L, 0L, 7L, (long)acks), (stats.MessagesReceived, stats.MessagesRejected, stats.EventsReceived, stats.EventsDelivered, stats.DeadLetters, stats.ConnectionsOpened, stats.ConnectionsActive, stats.StreamDelivered, stats.AcksSent));

        // The built-in meters: ASP.NET Core's requests (that /stats request), Kestrel's connections, the runtime's.
        var after = await ScrapeUntilAsync(
            gateway.Http,
            m => m.Find("http_server_request_duration_seconds_count", ("http_route", "/stats"), ("http_response_status_code", "200")).Count == 1,
            "ASP.NET Core's http.server.request.duration of the /stats request");
        Assert.Equal(1, after.Value("http_server_request_duration_seconds_count", ("http_route", "/stats")));
        Assert.Equal(3, after.Value("http_server_request_duration_seconds_count", ("http_route", "/ws"), ("http_response_status_code", "101")));
        Assert.NotEmpty(after.Find("kestrel_active_connections"));
        Assert.NotEmpty(after.Find("dotnet_gc_collections_total"));
        await c.DisposeAsync();
    }

    [Fact]
    public async Task ManagementPort_ServesMetricsThereOnly_AndRequireApiKeyGuardsIt()
    {
        var port = FreePort();
        await using var gateway = await TestGateway.StartAsync(new Dictionary<string, string?>
        {
            ["Ingest:Management:Port"] = $"{port}",
            ["Ingest:Management:RequireApiKey"] = "true",
            ["Ingest:Auth:ApiKeys:0"] = "key-one",
        });
        using var management = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}") };

        using (var main = await gateway.Http.GetAsync(new Uri("/metrics?access_token=key-one", UriKind.Relative), TestContext.Current.CancellationToken))
        {
            Assert.Equal(HttpStatusCode.NotFound, main.StatusCode);
        }

        using (var anonymous = await management.GetAsync(new Uri("/metrics", UriKind.Relative), TestContext.Current.CancellationToken))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, anonymous.StatusCode);
        }

        using var allowed = await management.GetAsync(new Uri("/metrics?access_token=key-one", UriKind.Relative), TestContext.Current.CancellationToken);
        Assert.Equal(HttpStatusCode.OK, allowed.StatusCode);
        Assert.StartsWith("text/plain", allowed.Content.Headers.ContentType?.ToString(), StringComparison.Ordinal);
        var metrics = MetricsScrape.Parse(await allowed.Content.ReadAsStringAsync(TestContext.Current.CancellationToken));
        Assert.Equal(0, metrics.Value("ingest_connections_opened_total", Scope));
    }

    private static string Event(int n) => $"{{\"msg\":\"event {n}\",\"clientId\":\"client-{n % 3}\",\"timestamp\":{n}}}";

    private static async Task<MetricsScrape> ScrapeAsync(HttpClient http) =>
        MetricsScrape.Parse(await http.GetStringAsync(new Uri("/metrics", UriKind.Relative), TestContext.Current.CancellationToken));

    /// <summary>Scrapes until <paramref name="condition"/> holds (counters move after the clients saw their answers), or fails after 30 s.</summary>
    internal static async Task<MetricsScrape> ScrapeUntilAsync(HttpClient http, Func<MetricsScrape, bool> condition, string what)
    {
        using var timer = new PeriodicTimer(TimeSpan.FromMilliseconds(100));
        var deadline = DateTime.UtcNow + Poll.DefaultTimeout;
        while (true)
        {
            var metrics = await ScrapeAsync(http);
            if (condition(metrics))
            {
                return metrics;
            }

            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"Timed out waiting in /metrics for {what}; its ingest samples: {string.Join(" | ", metrics.Samples.Where(s => s.Name.StartsWith("ingest_", StringComparison.Ordinal)))}");
            }

            await timer.WaitForNextTickAsync(TestContext.Current.CancellationToken);
        }
    }

    private static double Sum(MetricsScrape metrics, string name) => metrics.Find(name, Scope).Sum(s => s.Value);

    /// <summary>Exactly these values of the tag, each with exactly its count.</summary>
    private static void AssertTagged(MetricsScrape metrics, string name, string tag, Dictionary<string, double> expected)
    {
        var found = metrics.Find(name, Scope).ToDictionary(s => s.Labels[tag], s => s.Value);
        Assert.Equal(expected.OrderBy(p => p.Key, StringComparer.Ordinal), found.OrderBy(p => p.Key, StringComparer.Ordinal));
    }

    private static int FreePort()
    {
        using var listener = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
