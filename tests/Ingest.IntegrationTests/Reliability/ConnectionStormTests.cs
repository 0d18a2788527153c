using System.Diagnostics;
using System.Net.WebSockets;
using Ingest.Contracts;
using Ingest.Kafka.Embedded;
using Ingest.Testing;

namespace Ingest.IntegrationTests.Reliability;

/// <summary>
/// A connection storm, as after a gateway restart or a network blip when every page reconnects at
/// once: 5,000 connects started within a second against a gateway process of its own. Each connect
/// is upgraded or refused in one of the documented ways (docs/operations.md, "Limits": past the 512
/// handshakes in progress Kestrel closes a connection at once; past a connection limit the answer
/// is 503 or 429), clients that retry with backoff as ingest.js does all get in, the process stays
/// up within its memory budget ("Memory budget"), and every connection then delivers an event that
/// is acked and in Kafka.
/// </summary>
/// <remarks>In the measurement collection: it holds 10,000 sockets and reads the gateway's RSS.</remarks>
[Collection(MeasurementCollection.Name)]
public sealed class ConnectionStormTests
{
    private const int Connections = 5_000;

    /// <summary>What docs/operations.md budgets per WebSocket connection with the defaults (32 + 4 + 64 + 16 KB).</summary>
    private const long BudgetPerConnection = 116 * 1024;

    /// <summary>The message budgets of the defaults (reassembly 128 + queued 128 + librdkafka 64 MiB).</summary>
    private const long MessageBudgets = 320L * 1024 * 1024;

    [Fact]
    public async Task FiveThousandConnectsInASecond_RefusalsAsDocumented_RetryingClientsAllGetIn_ProcessUpWithinItsBudget_EveryConnectionDelivers()
    {
        using var cluster = EmbeddedKafkaCluster.Start(brokerCount: 1);
        cluster.CreateTopic("events", partitions: 4);
        cluster.CreateTopic("events.dlq", partitions: 1);
        await using var gateway = GatewayProcessHost.Start(new Dictionary<string, string>
        {
            ["Ingest:Kafka:BootstrapServers"] = cluster.BootstrapServers,
            // All from 127.0.0.1 here; in production they come from many addresses.
            ["Ingest:Limits:MaxConnectionsPerAddress"] = $"{Connections}",
        });
        await gateway.WaitUntilReadyAsync();
        var baseline = gateway.ResidentBytes;

        // The storm: 50 connects every 10 ms, so all 5,000 start within a second; none is awaited
        // before the next ones start (the delays pace the storm; they wait for nothing).
        var started = Stopwatch.StartNew();
        var connects = new Task<TestClient>[Connections];
        var refusals = new System.Collections.Concurrent.ConcurrentBag<string>();
        for (var i = 0; i < Connections; i++)
        {
            var due = TimeSpan.FromMilliseconds(i / 50 * 10);
            if (due > started.Elapsed)
            {
                await Task.Delay(due - started.Elapsed, TestContext.Current.CancellationToken);
            }

            connects[i] = Task.Run(() => ConnectWithRetriesAsync(gateway.WebSocketUri, refusals));
        }

        var startedWithin = started.Elapsed;
        var clients = new List<TestClient>(Connections);
        var failures = new List<string>();
        foreach (var connect in connects)
        {
            try
            {
                clients.Add(await connect);
            }
            catch (WebSocketException e)
            {
                failures.Add(Refusal(e));
            }
        }

        var allAnsweredAfter = started.Elapsed;
        try
        {
            Assert.True(failures.Count == 0, $"{failures.Count} of {Connections} clients could not connect: {Describe(failures)}");
            Assert.False(gateway.HasExited);
            var stats = GatewayStats.Parse(await gateway.Http.GetStringAsync(new Uri("/stats", UriKind.Relative), TestContext.Current.CancellationToken));
            Assert.Equal(Connections, stats.ConnectionsActive);
            var storm = gateway.ResidentBytes - baseline;
            Assert.True(
                storm <= Connections * BudgetPerConnection + MessageBudgets,
                $"RSS grew by {storm / 1048576} MiB for {Connections} connections, past the budget of {(Connections * BudgetPerConnection + MessageBudgets) / 1048576} MiB");

            // Every connection delivers one event.
            await Task.WhenAll(clients.Select((client, c) => client.SendAndWaitAckAsync(FaultyLoad.Event($"s{c}", 0))));
            Assert.All(clients, client => Assert.Empty(client.Errors));
            TestContext.Current.TestOutputHelper?.WriteLine(
                $"storm: {Connections} connects started in {startedWithin.TotalMilliseconds:0} ms, all connected after {allAnsweredAfter.TotalMilliseconds:0} ms; refusals on the way: {Describe(refusals)}; RSS +{storm / 1048576} MiB ({storm / Connections} bytes a connection)");
        }
        finally
        {
            await Task.WhenAll(clients.Select(async client => await client.DisposeAsync()));
        }

        var records = TopicReader.ReadAll(cluster.BootstrapServers, "events", Connections);
        Assert.Equal(Connections, records.Select(r => r.Text).Distinct().Count());
        Assert.Equal(Connections, records.Count);
    }

    /// <summary>Connects, and after a documented refusal tries again with exponential backoff and jitter (100 ms to 2 s), as ingest.js does.</summary>
    private static async Task<TestClient> ConnectWithRetriesAsync(Uri uri, System.Collections.Concurrent.ConcurrentBag<string> refusals)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        for (var attempt = 0; ; attempt++)
        {
            try
            {
                return await TestClient.ConnectAsync(uri);
            }
            catch (WebSocketException e) when (DateTime.UtcNow < deadline && Refusal(e) is "closed at once" or "503" or "429")
            {
                refusals.Add(Refusal(e));
                var backoff = Math.Min(2_000, 100 * (1 << Math.Min(attempt, 5)));
                await Task.Delay(backoff / 2 + Random.Shared.Next(backoff / 2), TestContext.Current.CancellationToken);
            }
        }
    }

    /// <summary>Which documented refusal <paramref name="e"/> is, or what else went wrong.</summary>
    private static string Refusal(WebSocketException e) => e switch
    {
        _ when e.Message.Contains("'503'", StringComparison.Ordinal) => "503",
        _ when e.Message.Contains("'429'", StringComparison.Ordinal) => "429",
        { InnerException: System.Net.Http.HttpRequestException { HttpRequestError: System.Net.Http.HttpRequestError.ResponseEnded } } => "closed at once",
        _ => $"{e.Message} ({e.InnerException?.Message} / {e.InnerException?.InnerException?.Message})",
    };

    private static string Describe(IEnumerable<string> outcomes) =>
        string.Join("; ", outcomes.GroupBy(o => o).Select(g => $"{g.Count()} x {g.Key}").DefaultIfEmpty("none"));
}
