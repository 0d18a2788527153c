using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using Ingest.LoadTest.Metrics;
using Ingest.LoadTest.Reports;
using Ingest.LoadTest.Scenarios;
using Ingest.Testing;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;

namespace Ingest.IntegrationTests.LoadTest;

/// <summary>
/// The scenario report's per-second rows and the scrape of a gateway's <c>/metrics</c>: a real
/// gateway and the embedded broker for the run, and a loopback HTTP server standing in for the
/// metrics endpoint, so that both its answers (404 as today's gateway gives, and Prometheus text)
/// are tested whatever the gateway serves.
/// </summary>
public sealed class ReportTests
{
    private const string Exposition = """
        # HELP ingest_send_to_ack_seconds Receive to ack sent.
        # TYPE ingest_send_to_ack_seconds histogram
        ingest_send_to_ack_seconds_bucket{outcome="accepted",le="0.001"} 600
        ingest_send_to_ack_seconds_bucket{outcome="accepted",le="0.01"} 1000
        ingest_send_to_ack_seconds_bucket{outcome="accepted",le="+Inf"} 1024
        ingest_send_to_ack_seconds_sum{outcome="accepted"} 3.5
        ingest_send_to_ack_seconds_count{outcome="accepted"} 1024
        # TYPE ingest_batch_size histogram
        ingest_batch_size_bucket{le="10"} 5
        ingest_batch_size_bucket{le="100"} 10
        ingest_batch_size_bucket{le="+Inf"} 10
        ingest_batch_size_sum 300
        ingest_batch_size_count 10
        """;

    private static CancellationToken Token => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Scenario_MetricsEndpoint404_TheRunPasses_AndTheReportHasEverySecondAndSaysMetricsAreNotAvailable()
    {
        await using var metrics = await MetricsServer.StartAsync(StatusCodes.Status404NotFound, "");
        await using var gateway = await TestGateway.StartAsync(partitions: 4);
        const int clients = 8, events = 50;
        var settings = ScenarioSettings.Preset("classic", gateway.WebSocketUri, gateway.Kafka.BootstrapServers) with
        {
            Topic = gateway.Topic,
            Clients = clients,
            EventsPerClient = events,
            // 50 messages 50 ms apart per client: about 2.5 s, so at least two whole seconds.
            Interval = TimeSpan.FromMilliseconds(50),
            DrainTimeout = TimeSpan.FromSeconds(60),
            MetricsUrl = metrics.Url,
        };

        var result = await ScenarioRunner.RunAsync(settings, onProgress: null, Token);

        Assert.True(result.Passed, $"verification failed: {result}");
        Assert.NotNull(result.GatewayMetrics);
        Assert.False(result.GatewayMetrics.Available);
        Assert.Equal("gateway /metrics not available (HTTP 404)", result.GatewayMetrics.Headline);
        Assert.Equal(1, metrics.Requests);

        var seconds = result.Timeline;
        Assert.True(seconds.Count >= 3, $"{seconds.Count} rows");
        Assert.True(seconds[0].Second >= 1);
        Assert.True(seconds.Zip(seconds.Skip(1)).All(p => p.Second.Second > p.First.Second), "seconds increase");
        // Every ack is in exactly one second's latency histogram, and in no other.
        Assert.Equal(clients * events, seconds.Sum(s => s.Acks));
        Assert.Equal(result.AckLatency.Count, seconds.Sum(s => s.Acks));
        // Each rate is over its own interval: rate x length, summed, gives back every event.
        var lengths = seconds.Select((s, i) => s.ElapsedSeconds - (i == 0 ? 0 : seconds[i - 1].ElapsedSeconds)).ToList();
        Assert.Equal(clients * events, seconds.Select((s, i) => s.SentPerSecond * lengths[i]).Sum(), clients * events * 0.02);
        Assert.Equal(clients * events, seconds.Select((s, i) => s.AckedPerSecond * lengths[i]).Sum(), clients * events * 0.02);
        // Paced at 8 clients x 20 messages/s: a whole second of sending has about 160.
        Assert.InRange(seconds.Max(s => s.SentPerSecond), 100, 320);
        Assert.All(seconds.Where(s => s.Acks > 0), s => Assert.True(s.AckP50Ms > 0 && s.AckP99Ms >= s.AckP50Ms && s.AckMaxMs >= s.AckP99Ms, $"{s}"));
        Assert.All(seconds.Where(s => s.Acks == 0), s => Assert.Null(s.AckP99Ms));

        var directory = Path.Combine(Path.GetTempPath(), "ingest-report-" + Guid.NewGuid().ToString("N"));
        try
        {
            var files = await ScenarioReport.WriteFilesAsync(result, directory, Token);

            var html = await File.ReadAllTextAsync(files.Html, Token);
            Assert.Contains("<h2>Per second</h2>", html, StringComparison.Ordinal);
            Assert.Contains("Events per second (events/s)", html, StringComparison.Ordinal);
            Assert.Contains("Send to ack, per second (ms)", html, StringComparison.Ordinal);
            Assert.Contains("<polyline", html, StringComparison.Ordinal);
            Assert.Contains("gateway /metrics not available (HTTP 404)", html, StringComparison.Ordinal);
            Assert.DoesNotContain("<script", html, StringComparison.OrdinalIgnoreCase);
            var markdown = await File.ReadAllTextAsync(files.Markdown, Token);
            Assert.Contains("## Per second", markdown, StringComparison.Ordinal);
            Assert.Contains("gateway /metrics not available (HTTP 404)", markdown, StringComparison.Ordinal);
            var csv = await File.ReadAllLinesAsync(files.Csv!, Token);
            Assert.Equal(seconds.Count + 1, csv.Length);
            Assert.StartsWith("second,elapsed_s,sent_per_s,acked_per_s,acks,", csv[0], StringComparison.Ordinal);
            using var json = JsonDocument.Parse(await File.ReadAllTextAsync(files.Json, Token));
            Assert.Equal(seconds.Count, json.RootElement.GetProperty("timeline").GetArrayLength());
            Assert.Equal(clients * events, json.RootElement.GetProperty("timeline").EnumerateArray().Sum(s => s.GetProperty("acks").GetInt64()));
            Assert.False(json.RootElement.GetProperty("gatewayMetrics").GetProperty("available").GetBoolean());
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    [Fact]
    public async Task Scrape_PrometheusText_AsksForTheTextFormat_AndSummarisesEachHistogram()
    {
        await using var metrics = await MetricsServer.StartAsync(StatusCodes.Status200OK, Exposition);

        var scraped = await GatewayMetricsScraper.ScrapeAsync(metrics.Url, Token);

        Assert.True(scraped.Available, scraped.Note);
        Assert.Equal("text/plain; version=0.0.4", metrics.LastAccept);
        Assert.Equal(["ingest_batch_size", "ingest_send_to_ack_seconds"], scraped.Histograms.Select(h => h.Name));
        var ack = scraped.Histograms[1];
        Assert.Equal("outcome=\"accepted\"", ack.Labels);
        Assert.Equal(1024, ack.Count);
        Assert.Equal(3.5, ack.Sum);
        // Rank 512 of 1024 is in the first bucket (600 at or under 1 ms): 0.001 x 512/600.
        Assert.Equal(0.001 * 512 / 600, ack.P50!.Value, 12);
        // Rank 1013.76 is in +Inf: the highest finite bound.
        Assert.Equal(0.01, ack.P99);
        var batch = scraped.Histograms[0];
        Assert.Equal(30, batch.Mean);
        // Rank 5 is the top of (0, 10]; rank 9.9 in (10, 100] holding 5: 10 + 90 x 4.9/5.
        Assert.Equal(10, batch.P50);
        Assert.Equal(98.2, batch.P99!.Value, 9);

        var section = MetricsReport.Section(scraped);
        Assert.Contains("| ingest_send_to_ack_seconds | outcome=\"accepted\" | 1024 | 3.5 | 0.003418 | 0.0008533 | 0.01 |", section.Markdown, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Scrape_NobodyListening_SaysWhy_WithoutThrowing()
    {
        // A port that was free a moment ago: connection refused.
        using var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        var port = ((IPEndPoint)probe.LocalEndpoint).Port;
        probe.Stop();

        var scraped = await GatewayMetricsScraper.ScrapeAsync(new Uri($"http://127.0.0.1:{port}/metrics"), Token);

        Assert.False(scraped.Available);
        Assert.StartsWith("gateway /metrics not available (", scraped.Headline, StringComparison.Ordinal);
        Assert.Contains("refused", scraped.Note, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task Scrape_NotPrometheusText_SaysItDoesNotParse()
    {
        await using var metrics = await MetricsServer.StartAsync(StatusCodes.Status200OK, "<html>a login page</html>");

        var scraped = await GatewayMetricsScraper.ScrapeAsync(metrics.Url, Token);

        Assert.False(scraped.Available);
        Assert.StartsWith("not the Prometheus text format: line 1:", scraped.Note, StringComparison.Ordinal);
    }

    /// <summary>Kestrel on 127.0.0.1 answering <c>GET /metrics</c> with a fixed status and body.</summary>
    private sealed class MetricsServer : IAsyncDisposable
    {
        private readonly WebApplication _app;
        private int _requests;

        private MetricsServer(WebApplication app) => _app = app;

        public Uri Url => new(new Uri(_app.Urls.First()), "/metrics");

        public int Requests => Volatile.Read(ref _requests);

        public string? LastAccept { get; private set; }

        public static async Task<MetricsServer> StartAsync(int status, string body)
        {
            var builder = WebApplication.CreateSlimBuilder();
            builder.WebHost.UseUrls("http://127.0.0.1:0");
            var app = builder.Build();
            var server = new MetricsServer(app);
            app.MapGet("/metrics", async context =>
            {
                Interlocked.Increment(ref server._requests);
                server.LastAccept = context.Request.Headers.Accept.ToString();
                context.Response.StatusCode = status;
                context.Response.ContentType = "text/plain; version=0.0.4; charset=utf-8";
                await context.Response.WriteAsync(body);
            });
            await app.StartAsync();
            return server;
        }

        public async ValueTask DisposeAsync()
        {
            await _app.StopAsync();
            await _app.DisposeAsync();
        }
    }
}
