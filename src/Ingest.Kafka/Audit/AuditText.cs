using System.Globalization;

namespace Ingest.Kafka.Audit;

/// <summary>An <see cref="AuditResult"/> as lines and table rows (the harness's report and the listener print the same).</summary>
public static class AuditText
{
    /// <summary>Per-clientId rows printed at most; the audit file has every client.</summary>
    public const int MaxClientRows = 50;

    public static readonly IReadOnlyList<string> ClientColumns =
        ["clientId", "sent", "acked", "rejected", "unresolved", "landed", "duplicates (resent / sent once)", "missing acked", "landed not acked"];

    public static readonly IReadOnlyList<string> PartitionColumns =
        ["partition", "start", "end", "watermark records", "run records", "other records", "first offset", "last offset", "unread"];

    private static string F(long value) => value.ToString("N0", CultureInfo.InvariantCulture);

    /// <summary>The verdict and the totals, a few lines.</summary>
    public static IReadOnlyList<string> Summary(AuditResult result)
    {
        ArgumentNullException.ThrowIfNull(result);
        var t = result.Totals;
        var lines = new List<string>
        {
            $"delivery audit of run {result.RunId} in {result.Topic}: {(result.Passed ? "PASSED" : "FAILED")} ({F(t.MissingAcked)} acked events missing, {F(t.Unread)} records unread)",
            $"  clients {F(t.Clients)}: sent {F(t.Sent)}, acked {F(t.Acked)}, rejected {F(t.Rejected)} (rejected at least once {F(t.RejectedOnce)}), unresolved {F(t.Unresolved)}",
            $"  kafka: landed {F(t.Landed)} distinct, duplicates {F(t.Duplicates)} ({F(t.DuplicatesOfResent)} of events the client resent, {F(t.DuplicatesOfSentOnce)} of events sent once), acked events duplicated {F(t.DuplicatedAcked)}",
            $"  difference: missing acked {F(t.MissingAcked)}, landed not acked {F(t.LandedNotAcked)}, sent - acked {F(t.Sent - t.Acked)}, acked - landed {F(t.Acked - t.Landed)}",
            $"  partitions {F(result.Partitions.Count)}: run records {F(t.RunRecords)}, by watermarks {F(t.WatermarkRecords)}, unread {F(t.Unread)}",
        };
        if (t.DuplicatesOfSentOnce > 0)
        {
            lines.Add("  (duplicates of events sent once are producer retries stored twice: the embedded mock cluster does not de-duplicate an idempotent producer's retries; Apache Kafka does)");
        }

        foreach (var client in result.Clients.Where(c => c.MissingAcked > 0).Take(10))
        {
            lines.Add($"  missing acked events of {client.ClientId}: {string.Join(", ", client.MissingExamples)}{(client.MissingAcked > client.MissingExamples.Count ? ", ..." : "")}");
        }

        foreach (var partition in result.Partitions.Where(p => p.RetentionDropped))
        {
            lines.Add(partition.Unread == 0
                ? $"  partition {partition.Partition}: the low watermark passed the run's start: the broker's retention dropped records of the run after they were read"
                : $"  partition {partition.Partition}: the low watermark passed the run's start: the broker's retention dropped records of the run, {partition.Unread:N0} of them before they were read");
        }

        return lines;
    }

    /// <summary>The clients with a difference (missing first), at most <see cref="MaxClientRows"/>, then one row for the others and one for the totals.</summary>
    public static IReadOnlyList<IReadOnlyList<string>> ClientRows(AuditResult result)
    {
        ArgumentNullException.ThrowIfNull(result);
        var different = result.Clients.Where(c => c.HasDifference)
            .OrderByDescending(c => c.MissingAcked).ThenByDescending(c => c.Duplicates).ThenBy(c => c.ClientId, StringComparer.Ordinal)
            .ToList();
        var rows = different.Take(MaxClientRows).Select(c => (IReadOnlyList<string>)
        [
            c.ClientId, F(c.Sent), F(c.Acked), F(c.Rejected), F(c.Unresolved), F(c.Landed),
            $"{F(c.Duplicates)} ({F(c.DuplicatesOfResent)} / {F(c.DuplicatesOfSentOnce)})", F(c.MissingAcked), F(c.LandedNotAcked),
        ]).ToList();
        if (different.Count > MaxClientRows)
        {
            rows.Add([$"({F(different.Count - MaxClientRows)} more with a difference: the audit file)", "", "", "", "", "", "", "", ""]);
        }

        var same = result.Totals.Clients - different.Count;
        if (same > 0)
        {
            rows.Add([$"({F(same)} clients: sent = acked = landed once)", "", "", "", "", "", "", "", ""]);
        }

        var t = result.Totals;
        rows.Add(["total", F(t.Sent), F(t.Acked), F(t.Rejected), F(t.Unresolved), F(t.Landed), $"{F(t.Duplicates)} ({F(t.DuplicatesOfResent)} / {F(t.DuplicatesOfSentOnce)})", F(t.MissingAcked), F(t.LandedNotAcked)]);
        return rows;
    }

    public static IReadOnlyList<IReadOnlyList<string>> PartitionRows(AuditResult result)
    {
        ArgumentNullException.ThrowIfNull(result);
        var rows = result.Partitions.Select(p => (IReadOnlyList<string>)
        [
            p.Partition.ToString(CultureInfo.InvariantCulture), F(p.StartOffset), F(p.EndOffset), F(p.WatermarkRecords), F(p.RunRecords), F(p.OtherRecords),
            p.FirstOffset < 0 ? "-" : F(p.FirstOffset), p.LastOffset < 0 ? "-" : F(p.LastOffset), F(p.Unread) + (p.RetentionDropped ? " (retention dropped)" : ""),
        ]).ToList();
        var t = result.Totals;
        rows.Add(["total", "", "", F(t.WatermarkRecords), F(t.RunRecords), F(result.Partitions.Sum(p => p.OtherRecords)), "", "", F(t.Unread)]);
        return rows;
    }

    /// <summary>The summary, then the per-clientId and per-partition tables in fixed-width text.</summary>
    public static void Write(TextWriter writer, AuditResult result)
    {
        ArgumentNullException.ThrowIfNull(writer);
        foreach (var line in Summary(result))
        {
            writer.WriteLine(line);
        }

        writer.WriteLine("per clientId:");
        WriteTable(writer, ClientColumns, ClientRows(result));
        writer.WriteLine("per partition:");
        WriteTable(writer, PartitionColumns, PartitionRows(result));
    }

    private static void WriteTable(TextWriter writer, IReadOnlyList<string> columns, IReadOnlyList<IReadOnlyList<string>> rows)
    {
        // A long first cell (the "n more" rows) does not widen the column: it overflows.
        var widths = columns.Select((c, i) => Math.Max(c.Length, rows.Where(r => r[1].Length > 0 || i > 0).Select(r => r[i].Length).DefaultIfEmpty(0).Max())).ToArray();
        writer.WriteLine("  " + string.Join("  ", columns.Select((c, i) => i == 0 ? c.PadRight(widths[i]) : c.PadLeft(widths[i]))));
        foreach (var row in rows)
        {
            writer.WriteLine(("  " + string.Join("  ", row.Select((c, i) => i == 0 ? c.PadRight(widths[i]) : c.PadLeft(widths[i])))).TrimEnd());
        }
    }
}
