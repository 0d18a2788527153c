using Ingest.Kafka.Audit;

namespace Ingest.UnitTests.Kafka;

public sealed class RangeSetTests
{
    [Fact]
    public void InOrderAdds_MergeIntoOneRange()
    {
        var set = new RangeSet();
        for (var n = 0; n < 1000; n++)
        {
            Assert.True(set.Add(n));
        }

        Assert.Equal([(0, 999)], set.Ranges);
        Assert.Equal(1000, set.Count);
        Assert.False(set.Add(500));
    }

    [Fact]
    public void OutOfOrderAdds_FillGapsAndMergeNeighbours()
    {
        var set = new RangeSet();
        foreach (var n in new[] { 5, 1, 3, 2, 10, 4, 0 })
        {
            set.Add(n);
        }

        Assert.Equal([(0, 5), (10, 10)], set.Ranges);
        Assert.Equal(7, set.Count);
        Assert.True(set.Contains(3));
        Assert.False(set.Contains(7));
        set.AddRange(6, 9);
        Assert.Equal([(0, 10)], set.Ranges);
        Assert.Equal(11, set.Count);
    }

    [Fact]
    public void AddRange_OverlappingSeveral_CountsEachNumberOnce()
    {
        var set = RangeSet.Of([(0, 2), (5, 7), (10, 12)]);
        set.AddRange(1, 11);
        Assert.Equal([(0, 12)], set.Ranges);
        Assert.Equal(13, set.Count);
    }

    [Fact]
    public void IntersectionAndExcept()
    {
        var a = RangeSet.Of([(0, 9), (20, 29)]);
        var b = RangeSet.Of([(5, 24)]);
        Assert.Equal(10, RangeSet.IntersectionCount(a, b));
        Assert.Equal([0, 1, 2], RangeSet.Except(a, b, 3));
        Assert.Equal([0, 1, 2, 3, 4, 25, 26, 27, 28, 29], RangeSet.Except(a, b, 100));
        Assert.Equal("0-9,20-29", a.ToString());
    }
}

public sealed class DeliveryReconciliationTests
{
    private static PartitionTally Partition(int id, long start, long end, long run, long other = 0, long low = 0)
    {
        var tally = new PartitionTally(id, start) { EndOffset = end, LowAtEnd = low };
        for (var i = 0; i < run; i++)
        {
            tally.Read(start + i, ofTheRun: true);
        }

        for (var i = 0; i < other; i++)
        {
            tally.Read(start + run + i, ofTheRun: false);
        }

        return tally;
    }

    [Fact]
    public void EverythingAckedAndLandedOnce_Passes_WithNoDifference()
    {
        var ledger = new ClientLedger(0, "client-0");
        ledger.Sent(0, 100);
        ledger.Acked(0, 100);
        var landed = new LandedEvents();
        for (var n = 0; n < 100; n++)
        {
            landed.Add(n);
        }

        var result = DeliveryReconciliation.Reconcile("r", "t", [ledger.Snapshot()], new Dictionary<string, LandedEvents> { ["client-0"] = landed }, [Partition(0, 10, 110, 100)]);

        Assert.True(result.Passed);
        var client = Assert.Single(result.Clients);
        Assert.False(client.HasDifference);
        Assert.Equal((100L, 100L, 100L, 0L, 0L, 0L), (client.Sent, client.Acked, client.Landed, client.Duplicates, client.MissingAcked, client.LandedNotAcked));
        var partition = Assert.Single(result.Partitions);
        Assert.Equal((100L, 100L, 0L, 10L, 109L), (partition.WatermarkRecords, partition.RunRecords, partition.Unread, partition.FirstOffset, partition.LastOffset));
    }

    [Fact]
    public void AckedEventNotInKafka_IsMissing_AndFailsTheAudit()
    {
        var ledger = new ClientLedger(3, "client-3");
        ledger.Sent(0, 10);
        ledger.Acked(0, 10);
        var landed = new LandedEvents();
        foreach (var n in new[] { 0, 1, 2, 4, 5, 6, 7, 8, 9 })
        {
            landed.Add(n);
        }

        var result = DeliveryReconciliation.Reconcile("r", "t", [ledger.Snapshot()], new Dictionary<string, LandedEvents> { ["client-3"] = landed }, [Partition(0, 0, 9, 9)]);

        Assert.False(result.Passed);
        Assert.Equal(1, result.Totals.MissingAcked);
        Assert.Equal([3], result.Clients[0].MissingExamples);
        Assert.Contains(AuditText.Summary(result), line => line.Contains("missing acked events of client-3: 3", StringComparison.Ordinal));
    }

    [Fact]
    public void Duplicates_AreSplitByCause_ResentOrSentOnce_AndDoNotFailTheAudit()
    {
        var ledger = new ClientLedger(0, "client-0");
        ledger.Sent(0, 10);
        ledger.Acked(0, 10);
        ledger.Resent(4, 2); // 4 and 5 were unacked at a reconnect and sent again
        var landed = new LandedEvents();
        for (var n = 0; n < 10; n++)
        {
            landed.Add(n);
        }

        Assert.Equal(2, landed.Add(4)); // resent: at-least-once
        Assert.Equal(3, landed.Add(4));
        Assert.Equal(2, landed.Add(8)); // sent once: a producer retry stored twice

        var result = DeliveryReconciliation.Reconcile("r", "t", [ledger.Snapshot()], new Dictionary<string, LandedEvents> { ["client-0"] = landed }, [Partition(0, 0, 13, 13)]);

        Assert.True(result.Passed);
        var t = result.Totals;
        Assert.Equal((3L, 2L, 1L, 2L), (t.Duplicates, t.DuplicatesOfResent, t.DuplicatesOfSentOnce, t.DuplicatedAcked));
        Assert.Equal(10, t.Landed);
        Assert.Equal(13, t.RunRecords);
    }

    [Fact]
    public void RejectedThenResentAndAcked_IsNotRejected_AndUnackedLandedIsCounted()
    {
        var ledger = new ClientLedger(0, "client-0");
        ledger.Sent(0, 10);
        ledger.Acked(0, 5);
        ledger.Rejected(5, 3); // delivery_failed for 5, 6, 7
        ledger.Resent(5, 1);
        ledger.Acked(5, 1);    // 5 resent and acked; 6, 7 stay rejected; 8, 9 unresolved
        var landed = new LandedEvents();
        foreach (var n in new[] { 0, 1, 2, 3, 4, 5, 6, 9 })
        {
            landed.Add(n);
        }

        var result = DeliveryReconciliation.Reconcile("r", "t", [ledger.Snapshot()], new Dictionary<string, LandedEvents> { ["client-0"] = landed }, []);

        var c = result.Clients[0];
        Assert.Equal((6L, 2L, 3L, 2L), (c.Acked, c.Rejected, c.RejectedOnce, c.Unresolved));
        Assert.Equal((8L, 0L, 2L), (c.Landed, c.MissingAcked, c.LandedNotAcked)); // 6 (rejected, yet written) and 9 (unacked)
        Assert.True(c.HasDifference);
    }

    [Fact]
    public void RecordsBetweenTheWatermarksNotRead_AndRetentionPastTheStart_FailTheAudit()
    {
        var result = DeliveryReconciliation.Reconcile("r", "t", [], new Dictionary<string, LandedEvents>(), [Partition(0, 100, 200, 60, other: 30, low: 150)]);

        Assert.False(result.Passed);
        Assert.Equal(10, result.Totals.Unread);
        Assert.True(result.Partitions[0].RetentionDropped);
    }

    [Fact]
    public void RetentionPastTheStart_AfterEveryRecordWasRead_PassesTheAudit_AndTheSummarySaysTheyWereRead()
    {
        // A long run passes the mock's 5 MiB per partition: the oldest records go after they were read.
        var result = DeliveryReconciliation.Reconcile("r", "t", [], new Dictionary<string, LandedEvents>(), [Partition(0, 100, 200, 100, other: 0, low: 150)]);

        Assert.True(result.Passed);
        Assert.Equal(0, result.Totals.Unread);
        Assert.True(result.Partitions[0].RetentionDropped);
        Assert.Contains(AuditText.Summary(result), line => line.Contains("partition 0", StringComparison.Ordinal) && line.Contains("after they were read", StringComparison.Ordinal));
    }

    [Fact]
    public void AuditFile_RoundTrips_AndTotalsCompare()
    {
        var ledger = new ClientLedger(7, "client-7");
        ledger.Sent(0, 1000);
        ledger.Acked(0, 400);
        ledger.Acked(401, 599);
        ledger.Rejected(400, 1);
        ledger.Resent(398, 3);
        var record = ledger.Snapshot();
        var tally = Partition(2, 5, 1005, 1000);
        var writer = DeliveryReconciliation.Reconcile("run1", "topic", [record], new Dictionary<string, LandedEvents>(), [tally]);

        var file = DeliveryAuditFile.Parse(DeliveryAuditFile.From("run1", "topic", "127.0.0.1:9092", [record], [tally], writer).ToJson());

        Assert.Equal(("run1", "topic", "127.0.0.1:9092"), (file.RunId, file.Topic, file.BootstrapServers));
        Assert.Equal(new AuditPartitionRange(2, 5, 1005), Assert.Single(file.Partitions));
        var back = Assert.Single(file.ClientRecords());
        Assert.Equal((7, "client-7", 1000), (back.Client, back.ClientId, back.Sent));
        Assert.Equal([(0, 399), (401, 999)], back.Acked.Ranges);
        Assert.Equal([(400, 400)], back.Rejected.Ranges);
        Assert.Equal([(398, 400)], back.Resent.Ranges);
        Assert.Empty(AuditResult.Differences(writer.Totals, file.Writer!.Totals));
        Assert.Equal(["MissingAcked: 999 vs 998"], AuditResult.Differences(writer.Totals, writer.Totals with { MissingAcked = 998 }));
        Assert.Throws<FormatException>(() => DeliveryAuditFile.Parse("{\"format\":\"other/1\",\"runId\":\"r\",\"topic\":\"t\",\"bootstrapServers\":\"b\"}"));
    }
}
