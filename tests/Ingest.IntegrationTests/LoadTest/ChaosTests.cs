using Ingest.IntegrationTests.Listener;
using Ingest.Kafka.Audit;
using Ingest.Kafka.Embedded;
using Ingest.LoadTest.Chaos;

namespace Ingest.IntegrationTests.LoadTest;

/// <summary>
/// The harness's <c>chaos</c> command scaled down, against a gateway process and a 3-broker
/// embedded cluster: the delivery audit of a clean run (and the listener's own reconciliation of
/// it from the audit file), and a CI-sized fault schedule.
/// </summary>
public sealed class ChaosTests
{
    private static ChaosOptions Small(string results, EmbeddedKafkaCluster cluster, int seconds, params FaultSpec[] faults) => new()
    {
        Clients = 8,
        Rate = 2_000,
        DurationSeconds = seconds,
        Faults = faults,
        Partitions = 8,
        SampleSeconds = 1,
        ResultsDirectory = results,
        Cluster = cluster,
    };

    [Fact]
    public async Task CleanRun_AuditSaysNothingMissing_AndTheListenerReconcilesTheSameFromTheAuditFile()
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        timeout.CancelAfter(TimeSpan.FromMinutes(2));
        using var cluster = EmbeddedKafkaCluster.Start(brokerCount: 3);
        var results = Directory.CreateTempSubdirectory("chaos-audit-");
        try
        {
            var outcome = await ChaosRunner.RunAsync(Small(results.FullName, cluster, seconds: 4), TextWriter.Null, timeout.Token);

            var result = outcome.Result!;
            Assert.True(outcome.ExitCode == 0, string.Join("; ", result.Checks.Select(c => $"{c.What}: {c.Passed} {c.Detail}")));
            var t = result.Audit.Totals;
            Assert.True(t.Sent > 1_000, $"only {t.Sent} events sent");
            Assert.Equal((t.Sent, t.Sent, 0L, 0L, 0L), (t.Acked, t.Landed, t.MissingAcked, t.Duplicates, t.Unread));
            Assert.Equal(t.Sent, t.WatermarkRecords);
            Assert.Equal(8, result.Audit.Clients.Count);
            Assert.True(result.Resources.Count >= 3, $"{result.Resources.Count} resource samples");
            Assert.All(result.Resources, s => Assert.True(s.RssBytes > 0 && s.Threads > 0 && s.Descriptors > 0 && s.GcHeapBytes > 0, s.ToString()));

            // The listener reads the range the file names with a consumer of its own and reaches the same totals.
            var listener = await ListenerFixture.RunAsync(["--audit", outcome.Files!.Audit, "--timeout", "30"], timeout.Token);
            Assert.True(listener.ExitCode == 0, listener.Error);
            Assert.Contains($"delivery audit of run {result.RunId} in {result.Topic}: PASSED", listener.Error, StringComparison.Ordinal);
            Assert.Contains("agrees with the audit in the file", listener.Error, StringComparison.Ordinal);

            // An acked event that Kafka does not hold (planted in the file): the listener finds it missing and the totals differ.
            var file = DeliveryAuditFile.Parse(await File.ReadAllTextAsync(outcome.Files.Audit, timeout.Token));
            var first = file.Clients[0];
            var planted = file with { Clients = [first with { Sent = first.Sent + 1, Acked = [.. first.Acked, [first.Sent, first.Sent]] }, .. file.Clients.Skip(1)] };
            var tampered = Path.Combine(results.FullName, "tampered-audit.json");
            await File.WriteAllTextAsync(tampered, planted.ToJson(), timeout.Token);
            var failing = await ListenerFixture.RunAsync(["--audit", tampered, "--timeout", "30"], timeout.Token);
            Assert.Equal(Ingest.Listener.Cli.ExitCodes.VerificationFailed, failing.ExitCode);
            Assert.Contains($"missing acked events of {first.ClientId}: {first.Sent}", failing.Error, StringComparison.Ordinal);
            Assert.Contains("MissingAcked: 0 vs 1", failing.Error, StringComparison.Ordinal);
        }
        finally
        {
            results.Delete(recursive: true);
        }
    }

    [Fact]
    public async Task CiSized_BrokerDownAndLeaderMoves_EveryCheckPasses()
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        timeout.CancelAfter(TimeSpan.FromMinutes(2));
        using var cluster = EmbeddedKafkaCluster.Start(brokerCount: 3);
        var results = Directory.CreateTempSubdirectory("chaos-ci-");
        try
        {
            var outcome = await ChaosRunner.RunAsync(Small(results.FullName, cluster, 8, [.. FaultSpec.ParseList("broker-down:2,leader-moves")]), TextWriter.Null, timeout.Token);

            var result = outcome.Result!;
            var why = string.Join("; ", result.Phases.SelectMany(p => p.Checks.Select(c => $"{p.Fault} {c.What}: {c.Passed} {c.Detail}")).Concat(result.Checks.Select(c => $"{c.What}: {c.Passed} {c.Detail}")));
            Assert.True(outcome.ExitCode == 0, why);
            Assert.Equal(["broker-down:2", "leader-moves"], result.Phases.Select(p => p.Fault));
            Assert.All(result.Phases, p => Assert.True(p.Passed && p.ReadySeconds is not null && p.AcksResumedSeconds is not null, why));
            Assert.Equal(0, result.Audit.Totals.MissingAcked);
            Assert.Equal(result.Audit.Totals.Sent, result.Audit.Totals.Acked);
            var report = await File.ReadAllTextAsync(outcome.Files!.Report.Markdown, timeout.Token);
            Assert.Contains("| result | PASSED |", report, StringComparison.Ordinal);
            Assert.Contains("## Delivery audit", report, StringComparison.Ordinal);
            Assert.True(File.Exists(outcome.Files.Resources));
        }
        finally
        {
            results.Delete(recursive: true);
        }
    }
}
