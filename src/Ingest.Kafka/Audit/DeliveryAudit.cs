using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Ingest.Kafka.Audit;

/// <summary>One clientId's reconciliation: what was sent, acked, rejected, and what Kafka holds.</summary>
public sealed record ClientAudit
{
    public required string ClientId { get; init; }
    public long Sent { get; init; }
    public long Acked { get; init; }
    /// <summary>Rejected (an error frame) and never acked afterwards, also not after a resend.</summary>
    public long Rejected { get; init; }
    /// <summary>Rejected at least once (a resend may have been acked since).</summary>
    public long RejectedOnce { get; init; }
    /// <summary>Sent, and neither acked nor rejected.</summary>
    public long Unresolved { get; init; }
    /// <summary>Distinct events in Kafka.</summary>
    public long Landed { get; init; }
    /// <summary>Copies in Kafka beyond the first, over all events.</summary>
    public long Duplicates { get; init; }
    /// <summary>Extra copies of events the client sent more than once (after a reconnect or a rejection): at-least-once.</summary>
    public long DuplicatesOfResent { get; init; }
    /// <summary>Extra copies of events sent once: the producer's retries stored twice (the mock cluster does not de-duplicate idempotent retries; Apache Kafka does).</summary>
    public long DuplicatesOfSentOnce { get; init; }
    /// <summary>Acked events with more than one copy.</summary>
    public long DuplicatedAcked { get; init; }
    /// <summary>Acked and not in Kafka: must be 0.</summary>
    public long MissingAcked { get; init; }
    /// <summary>In Kafka without an ack reaching the client (at-least-once allows it).</summary>
    public long LandedNotAcked { get; init; }
    /// <summary>The first acked events not in Kafka.</summary>
    public IReadOnlyList<int> MissingExamples { get; init; } = [];

    /// <summary>Anything but sent = acked = landed once.</summary>
    public bool HasDifference => Sent != Acked || Landed != Acked || Duplicates != 0 || Rejected != 0 || Unresolved != 0;
}

/// <summary>One partition's reconciliation over a run.</summary>
public sealed record PartitionAudit
{
    public int Partition { get; init; }
    public long StartOffset { get; init; }
    public long EndOffset { get; init; }
    /// <summary>End minus start high watermark: records appended during the run, counted without consuming.</summary>
    public long WatermarkRecords { get; init; }
    public long RunRecords { get; init; }
    public long OtherRecords { get; init; }
    public long FirstOffset { get; init; }
    public long LastOffset { get; init; }
    /// <summary>Records between the watermarks that were never read (dropped by retention, or not reached).</summary>
    public long Unread { get; init; }
    /// <summary>The low watermark passed the run's start: the broker's retention dropped records of the run.</summary>
    public bool RetentionDropped { get; init; }
}

/// <summary>The totals of an audit over every client.</summary>
public sealed record AuditTotals
{
    public int Clients { get; init; }
    public long Sent { get; init; }
    public long Acked { get; init; }
    public long Rejected { get; init; }
    public long RejectedOnce { get; init; }
    public long Unresolved { get; init; }
    public long Landed { get; init; }
    public long Duplicates { get; init; }
    public long DuplicatesOfResent { get; init; }
    public long DuplicatesOfSentOnce { get; init; }
    public long DuplicatedAcked { get; init; }
    public long MissingAcked { get; init; }
    public long LandedNotAcked { get; init; }
    /// <summary>Records of the run read, over all partitions (duplicates included).</summary>
    public long RunRecords { get; init; }
    public long WatermarkRecords { get; init; }
    public long Unread { get; init; }
}

/// <summary>A run reconciled: per clientId, per partition, the totals, and whether no acked event is missing.</summary>
public sealed record AuditResult
{
    public required string RunId { get; init; }
    public required string Topic { get; init; }
    public required AuditTotals Totals { get; init; }
    public IReadOnlyList<ClientAudit> Clients { get; init; } = [];
    public IReadOnlyList<PartitionAudit> Partitions { get; init; } = [];

    /// <summary>Every acked event is in Kafka and every record between the watermarks was read.</summary>
    public bool Passed => Totals.MissingAcked == 0 && Totals.Unread == 0;

    /// <summary>The totals that differ between two audits of the same run (e.g. the harness's and the listener's), as "name: a vs b".</summary>
    public static IReadOnlyList<string> Differences(AuditTotals a, AuditTotals b)
    {
        ArgumentNullException.ThrowIfNull(a);
        ArgumentNullException.ThrowIfNull(b);
        var differences = new List<string>();
        foreach (var property in typeof(AuditTotals).GetProperties())
        {
            var x = property.GetValue(a);
            var y = property.GetValue(b);
            if (!Equals(x, y))
            {
                differences.Add(string.Create(CultureInfo.InvariantCulture, $"{property.Name}: {x} vs {y}"));
            }
        }

        return differences;
    }
}

/// <summary>
/// Reconciles the clients' side of a run (sent, acked, rejected, resent per event) with what a
/// consumer read of it from Kafka (copies per event, records per partition). Used by the load
/// harness and, from the audit file, by the listener, each with its own consumer.
/// </summary>
public static class DeliveryReconciliation
{
    private const int Examples = 10;

    public static AuditResult Reconcile(
        string runId,
        string topic,
        IReadOnlyList<ClientRecord> clients,
        IReadOnlyDictionary<string, LandedEvents> landed,
        IReadOnlyList<PartitionTally> partitions)
    {
        ArgumentNullException.ThrowIfNull(clients);
        ArgumentNullException.ThrowIfNull(landed);
        ArgumentNullException.ThrowIfNull(partitions);
        var empty = new LandedEvents();
        var rows = new List<ClientAudit>(clients.Count);
        foreach (var client in clients)
        {
            var inKafka = landed.GetValueOrDefault(client.ClientId) ?? empty;
            var ackedAndRejected = RangeSet.IntersectionCount(client.Acked, client.Rejected);
            var ackedAndLanded = RangeSet.IntersectionCount(client.Acked, inKafka.Distinct);
            long duplicates = 0, ofResent = 0, duplicatedAcked = 0;
            foreach (var (n, extra) in inKafka.ExtraCopies)
            {
                duplicates += extra;
                if (client.Resent.Contains(n))
                {
                    ofResent += extra;
                }

                if (client.Acked.Contains(n))
                {
                    duplicatedAcked++;
                }
            }

            var missing = client.Acked.Count - ackedAndLanded;
            rows.Add(new ClientAudit
            {
                ClientId = client.ClientId,
                Sent = client.Sent,
                Acked = client.Acked.Count,
                Rejected = client.Rejected.Count - ackedAndRejected,
                RejectedOnce = client.Rejected.Count,
                Unresolved = client.Sent - (client.Acked.Count + client.Rejected.Count - ackedAndRejected),
                Landed = inKafka.Distinct.Count,
                Duplicates = duplicates,
                DuplicatesOfResent = ofResent,
                DuplicatesOfSentOnce = duplicates - ofResent,
                DuplicatedAcked = duplicatedAcked,
                MissingAcked = missing,
                LandedNotAcked = inKafka.Distinct.Count - ackedAndLanded,
                MissingExamples = missing == 0 ? [] : RangeSet.Except(client.Acked, inKafka.Distinct, Examples),
            });
        }

        var partitionRows = partitions.OrderBy(p => p.Partition).Select(p => new PartitionAudit
        {
            Partition = p.Partition,
            StartOffset = p.StartOffset,
            EndOffset = p.EndOffset,
            WatermarkRecords = p.EndOffset - p.StartOffset,
            RunRecords = p.RunRecords,
            OtherRecords = p.OtherRecords,
            FirstOffset = p.FirstOffset,
            LastOffset = p.LastOffset,
            Unread = p.EndOffset - p.StartOffset - p.RunRecords - p.OtherRecords,
            RetentionDropped = p.LowAtEnd > p.StartOffset,
        }).ToList();

        var totals = new AuditTotals
        {
            Clients = rows.Count,
            Sent = rows.Sum(r => r.Sent),
            Acked = rows.Sum(r => r.Acked),
            Rejected = rows.Sum(r => r.Rejected),
            RejectedOnce = rows.Sum(r => r.RejectedOnce),
            Unresolved = rows.Sum(r => r.Unresolved),
            Landed = rows.Sum(r => r.Landed),
            Duplicates = rows.Sum(r => r.Duplicates),
            DuplicatesOfResent = rows.Sum(r => r.DuplicatesOfResent),
            DuplicatesOfSentOnce = rows.Sum(r => r.DuplicatesOfSentOnce),
            DuplicatedAcked = rows.Sum(r => r.DuplicatedAcked),
            MissingAcked = rows.Sum(r => r.MissingAcked),
            LandedNotAcked = rows.Sum(r => r.LandedNotAcked),
            RunRecords = partitionRows.Sum(p => p.RunRecords),
            WatermarkRecords = partitionRows.Sum(p => p.WatermarkRecords),
            Unread = partitionRows.Sum(p => p.Unread),
        };
        return new AuditResult { RunId = runId, Topic = topic, Totals = totals, Clients = rows, Partitions = partitionRows };
    }
}

/// <summary>
/// The audit file of a run (<c>ingest-delivery-audit/1</c>, JSON): where the run's records are
/// (topic, partitions, high watermarks at start and end), each client's side (sent count; acked,
/// rejected and resent event numbers as inclusive ranges), and the writer's own reconciliation, so
/// that a second tool can read the same range and reconcile independently.
/// </summary>
public sealed record DeliveryAuditFile
{
    public const string CurrentFormat = "ingest-delivery-audit/1";

    private static readonly JsonSerializerOptions Options = new(JsonSerializerDefaults.Web)
    {
        WriteIndented = true,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    public string Format { get; init; } = CurrentFormat;
    public required string RunId { get; init; }
    public required string Topic { get; init; }
    public required string BootstrapServers { get; init; }
    public DateTimeOffset WrittenAt { get; init; } = DateTimeOffset.UtcNow;
    /// <summary>How an event of the run is recognised in a record value.</summary>
    public string EventIdentity { get; init; } = "value is a JSON event whose msg is \"<runId> <client> <n>\" and whose clientId names the client";
    public IReadOnlyList<AuditPartitionRange> Partitions { get; init; } = [];
    public IReadOnlyList<AuditClient> Clients { get; init; } = [];
    /// <summary>The writer's reconciliation of the run (without per-client rows beyond those with a difference).</summary>
    public AuditResult? Writer { get; init; }

    public static DeliveryAuditFile From(string runId, string topic, string bootstrapServers, IReadOnlyList<ClientRecord> clients, IReadOnlyList<PartitionTally> partitions, AuditResult? writer) => new()
    {
        RunId = runId,
        Topic = topic,
        BootstrapServers = bootstrapServers,
        Partitions = partitions.OrderBy(p => p.Partition).Select(p => new AuditPartitionRange(p.Partition, p.StartOffset, p.EndOffset)).ToList(),
        Clients = clients.Select(c => new AuditClient(c.Client, c.ClientId, c.Sent, ToJson(c.Acked), ToJson(c.Rejected), ToJson(c.Resent))).ToList(),
        Writer = writer is null ? null : writer with { Clients = writer.Clients.Where(c => c.HasDifference).ToList() },
    };

    public IReadOnlyList<ClientRecord> ClientRecords() =>
        Clients.Select(c => new ClientRecord(c.Client, c.ClientId, c.Sent, FromJson(c.Acked), FromJson(c.Rejected), FromJson(c.Resent))).ToList();

    public string ToJson() => JsonSerializer.Serialize(this, Options);

    public static DeliveryAuditFile Parse(string json)
    {
        var file = JsonSerializer.Deserialize<DeliveryAuditFile>(json, Options) ?? throw new FormatException("The audit file is empty.");
        if (file.Format != CurrentFormat)
        {
            throw new FormatException($"Not an audit file of format {CurrentFormat} (format: {file.Format}).");
        }

        return file;
    }

    private static int[][] ToJson(RangeSet set) => set.Ranges.Select(r => new[] { r.First, r.Last }).ToArray();

    private static RangeSet FromJson(int[][]? ranges) => RangeSet.Of((ranges ?? []).Select(r => r.Length == 2 ? (r[0], r[1]) : throw new FormatException("A range is [first, last].")));
}

/// <summary>A partition's range of the run: high watermarks at start and end.</summary>
public sealed record AuditPartitionRange(int Partition, long StartOffset, long EndOffset);

/// <summary>A client's side in the audit file: events 0 to sent - 1; acked, rejected and resent as inclusive [first, last] ranges.</summary>
public sealed record AuditClient(int Client, string ClientId, int Sent, int[][] Acked, int[][] Rejected, int[][] Resent);
