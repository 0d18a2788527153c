using Ingest.LoadTest.Bench;

namespace Ingest.IntegrationTests.LoadTest;

/// <summary><c>idle-bench</c> scaled down: a gateway process, idle connections from two loopback addresses, a few active ones.</summary>
public sealed class IdleBenchTests
{
    [Fact]
    public async Task ScaledDown_FromTwoSourceAddresses_EveryConnectionCounted_ActiveEventsAckedAndLanded()
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        timeout.CancelAfter(TimeSpan.FromMinutes(3));
        var results = Directory.CreateTempSubdirectory("idle-bench-");
        var log = new StringWriter();
        try
        {
            var exitCode = await IdleConnectionsBench.RunAsync(
                new IdleBenchOptions
                {
                    Connections = 300,
                    Active = 10,
                    EventsPerSecond = 10,
                    Seconds = 2,
                    SourceAddresses = Ingest.LoadTest.Engine.SourceAddresses.ParseList("127.0.0.2-127.0.0.3"),
                    ResultsDirectory = results.FullName,
                },
                log,
                timeout.Token);

            Assert.True(exitCode == 0, log.ToString());
            var report = File.ReadAllText(Assert.Single(results.GetFiles("idle-bench-*.md")).FullName);
            Assert.Contains("300 connections, 10 active (PASSED)", report, StringComparison.Ordinal);
            Assert.Contains("| connections held (clients / gateway's /stats) | 300 / 300 |", report, StringComparison.Ordinal);
            Assert.Contains("| active: sent / acked / errored / landed | 200 / 200 / 0 / 200 |", report, StringComparison.Ordinal);
            Assert.Contains("| client source addresses | 127.0.0.2, 127.0.0.3 |", report, StringComparison.Ordinal);
        }
        finally
        {
            results.Delete(recursive: true);
        }
    }
}
