using Ingest.Kafka.Embedded;
using Ingest.LoadTest.Scenarios;
using Ingest.Testing;

namespace Ingest.IntegrationTests.LoadTest;

/// <summary>The load harness's scenarios against a real gateway and the embedded broker, verified in Kafka.</summary>
public sealed class ScenarioTests
{
    private static readonly TimeSpan TestTimeout = TimeSpan.FromMinutes(2);

    [Fact]
    public async Task Classic_ScaledDown_EveryAckedEventLandsExactlyOnce()
    {
        await using var gateway = await TestGateway.StartAsync(partitions: 8);
        var settings = ScenarioSettings.Preset("classic", gateway.WebSocketUri, gateway.Kafka.BootstrapServers) with
        {
            Topic = gateway.Topic,
            Clients = 32,
            EventsPerClient = 32,
            Interval = TimeSpan.FromMilliseconds(5),
            DrainTimeout = TimeSpan.FromSeconds(60),
        };
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        timeout.CancelAfter(TestTimeout);

        var result = await ScenarioRunner.RunAsync(settings, onProgress: null, timeout.Token);

        Assert.True(result.Passed, $"verification failed: {result}");
        Assert.Equal(32 * 32, result.Sent);
        Assert.Equal(32 * 32, result.Acked);
        Assert.Equal(32 * 32, result.Landed);
        Assert.Equal(0, result.Duplicated);
        Assert.Equal(32 * 32, result.AckLatency.Count);
        Assert.Equal(32 * 32, result.LandedLatency.Count);

        // The delivery audit agrees: per clientId nothing differs, per partition every record between the watermarks was read.
        var audit = result.Audit!;
        Assert.True(audit.Passed);
        Assert.Equal((32 * 32L, 32 * 32L, 32 * 32L, 0L, 0L), (audit.Totals.Sent, audit.Totals.Acked, audit.Totals.Landed, audit.Totals.MissingAcked, audit.Totals.Duplicates));
        Assert.Equal(32 * 32L, audit.Totals.WatermarkRecords);
        Assert.Equal(8, audit.Partitions.Count);
        Assert.All(audit.Clients, c => Assert.False(c.HasDifference));
    }

    [Fact]
    public async Task GatewayRestartedOnSamePortMidRun_ClientsResend_AckedEventsLandExactlyOnce_AllAtLeastOnce()
    {
        using var cluster = EmbeddedKafkaCluster.Start(brokerCount: 1);
        var fastDrain = new Dictionary<string, string?> { ["Ingest:Shutdown:ReconnectWindowMs"] = "300" };
        var first = await TestGateway.StartAsync(fastDrain, cluster, partitions: 8);
        const int clients = 32, events = 150;
        var settings = ScenarioSettings.Preset("classic", first.WebSocketUri, cluster.BootstrapServers) with
        {
            Topic = first.Topic,
            Clients = clients,
            EventsPerClient = events,
            Interval = TimeSpan.FromMilliseconds(10),
            DrainTimeout = TimeSpan.FromSeconds(60),
        };
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        timeout.CancelAfter(TestTimeout);

        var run = ScenarioRunner.RunAsync(settings, onProgress: null, timeout.Token);
        TestGateway? second = null;
        try
        {
            // Stop once a fifth of the events are in Kafka: mid-run, with clients still sending.
            await WaitUntilAsync(() => first.Metrics.Snapshot(0, 0).EventsDelivered >= clients * events / 5, timeout.Token);
            await first.StopAsync();
            await first.DisposeAsync();
            var restart = new Dictionary<string, string?>(fastDrain)
            {
                ["Ingest:Kafka:Topic"] = first.Topic,
                ["Ingest:Kafka:DeadLetterTopic"] = first.DeadLetterTopic,
                // Kestrel endpoints from configuration take precedence over the test gateway's port 0.
                ["Kestrel:Endpoints:Http:Url"] = $"http://127.0.0.1:{first.HttpUri.Port}",
            };
            second = await TestGateway.StartAsync(restart, cluster, partitions: 8);
            Assert.Equal(first.HttpUri.Port, second.HttpUri.Port);

            var result = await run;

            Assert.True(result.Reconnects >= clients, $"every client reconnects at least once: {result}");
            Assert.Equal(0, result.Missing);
            Assert.Equal(0, result.DuplicatedAcked);
            Assert.Equal(clients * events, result.Acked);
            Assert.Equal(clients * events, result.Landed);
            Assert.True(result.Passed, $"verification failed: {result}");
        }
        finally
        {
            if (second is not null)
            {
                await second.DisposeAsync();
            }
        }
    }

    private static async Task WaitUntilAsync(Func<bool> condition, CancellationToken cancellationToken)
    {
        while (!condition())
        {
            await Task.Delay(10, cancellationToken);
        }
    }
}
