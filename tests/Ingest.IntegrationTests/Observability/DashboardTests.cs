using System.Text.Json;
using System.Text.RegularExpressions;
using Ingest.Testing;

namespace Ingest.IntegrationTests.Observability;

/// <summary>
/// <c>deploy/grafana/dashboards/ingest-gateway.json</c>, which Grafana loads in compose's
/// observability profile: cannot be run here, so it is checked against what it needs. Every series
/// its queries name is in a running gateway's <c>GET /metrics</c>, and every panel is well formed.
/// </summary>
[Collection(TelemetryCollection.Name)]
public sealed partial class DashboardTests
{
    private static readonly string Dashboard = Path.Combine(FindRoot(), "deploy", "grafana", "dashboards", "ingest-gateway.json");

    [Fact]
    public void Panels_HaveUniqueIds_TheTemplatedDataSource_AndAQueryEach()
    {
        using var json = JsonDocument.Parse(File.ReadAllText(Dashboard));
        var panels = json.RootElement.GetProperty("panels").EnumerateArray().ToArray();
        var charts = panels.Where(p => p.GetProperty("type").GetString() != "row").ToArray();

        Assert.Equal("ingest-gateway", json.RootElement.GetProperty("uid").GetString());
        Assert.Equal(panels.Length, panels.Select(p => p.GetProperty("id").GetInt32()).Distinct().Count());
        Assert.True(charts.Length >= 10, $"{charts.Length} charts");
        Assert.All(charts, panel =>
        {
            Assert.Equal("${datasource}", panel.GetProperty("datasource").GetProperty("uid").GetString());
            Assert.Contains(panel.GetProperty("targets").EnumerateArray(), t => !string.IsNullOrWhiteSpace(t.GetProperty("expr").GetString()));
        });
        Assert.Contains(json.RootElement.GetProperty("templating").GetProperty("list").EnumerateArray(), v => v.GetProperty("name").GetString() == "datasource");
    }

    [Fact]
    public async Task EverySeriesItQueries_IsInTheGatewaysMetrics()
    {
        var wanted = Queries().SelectMany(q => SeriesName().Matches(q).Select(m => m.Value)).ToHashSet(StringComparer.Ordinal);
        Assert.Contains("ingest_message_ack_duration_seconds_bucket", wanted); // the latency panels
        Assert.Contains("ingest_kafka_broker_rtt_avg_seconds", wanted); // librdkafka's statistics

        await using var gateway = await TestGateway.StartAsync(new Dictionary<string, string?> { ["Ingest:Kafka:StatisticsIntervalMs"] = "200" });
        await using (var client = await TestClient.ConnectAsync(gateway.WebSocketUri))
        {
            await client.SendAndWaitAckAsync("{\"msg\":\"dashboard\",\"clientId\":\"c\",\"timestamp\":1}");
        }

        using var http = new HttpClient { BaseAddress = gateway.HttpUri };
        var metrics = await MetricsEndpointTests.ScrapeUntilAsync(
            http, m => wanted.All(name => m.Find(name).Count > 0), "every series the dashboard queries");
        Assert.All(wanted, name => Assert.NotEmpty(metrics.Find(name)));
    }

    private static string[] Queries()
    {
        using var json = JsonDocument.Parse(File.ReadAllText(Dashboard));
        var queries = json.RootElement.GetProperty("panels").EnumerateArray()
            .Where(p => p.TryGetProperty("targets", out _))
            .SelectMany(p => p.GetProperty("targets").EnumerateArray())
            .Select(t => t.GetProperty("expr").GetString()!)
            .Concat(json.RootElement.GetProperty("templating").GetProperty("list").EnumerateArray()
                .Where(v => v.GetProperty("type").GetString() == "query")
                .Select(v => v.GetProperty("query").GetString()!))
            .ToArray();
        return queries;
    }

    [GeneratedRegex(@"\bingest_[a-z0-9_]+")]
    private static partial Regex SeriesName();

    private static string FindRoot()
    {
        var directory = new DirectoryInfo(AppContext.BaseDirectory);
        while (directory is not null && !File.Exists(Path.Combine(directory.FullName, "Ingest.sln")))
        {
            directory = directory.Parent;
        }

        return directory?.FullName ?? throw new InvalidOperationException("Ingest.sln not found above " + AppContext.BaseDirectory);
    }
}
