using System.Globalization;
using System.Text.Json;
using Confluent.Kafka;
using Ingest.Kafka;
using Ingest.Kafka.Audit;
using Ingest.Listener.Cli;
using Ingest.Listener.Output;

namespace Ingest.Listener.Verification;

/// <summary>
/// <c>--audit &lt;file&gt;</c>: reconciles a load run from the audit file the harness wrote, with
/// a consumer of its own. It reads exactly the range the file names (each partition from the high
/// watermark at the run's start to the one at its end), recognises the run's events by their JSON
/// (<c>msg</c> = <c>"&lt;runId&gt; &lt;client&gt; &lt;n&gt;"</c>, <c>clientId</c>), counts the copies of
/// each, and prints the same reconciliation as the harness, then whether its totals agree with the
/// harness's. Exit 0 when no acked event is missing, every record of the range was read and the
/// totals agree; 2 otherwise; 3 when the file cannot be read or Kafka not reached in time.
/// </summary>
internal static class AuditRun
{
    public static async Task<int> RunAsync(string path, string? bootstrapServers, TimeSpan? timeout, ListenerConsole console, CancellationToken cancellationToken)
    {
        DeliveryAuditFile file;
        try
        {
            file = DeliveryAuditFile.Parse(await File.ReadAllTextAsync(path, cancellationToken));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or JsonException or FormatException)
        {
            console.Error.WriteLine($"error: cannot read the audit file {path}: {e.Message}");
            return ExitCodes.Failed;
        }

        var servers = bootstrapServers ?? file.BootstrapServers;
        console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"auditing run {file.RunId}: {file.Clients.Count} clients, {file.Partitions.Count} partitions of {file.Topic} at {servers}, {file.Partitions.Sum(p => p.EndOffset - p.StartOffset):N0} records by watermarks"));
        var landed = file.Clients.ToDictionary(c => c.ClientId, _ => new LandedEvents(), StringComparer.Ordinal);
        var tallies = file.Partitions.ToDictionary(p => p.Partition, p => new PartitionTally(p.Partition, p.StartOffset) { EndOffset = p.EndOffset });
        var prefix = file.RunId + " ";
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        limit.CancelAfter(timeout ?? TimeSpan.FromMinutes(5));
        try
        {
            await Task.Run(() => Consume(servers, file.Topic, tallies, landed, prefix, limit.Token), CancellationToken.None);
            ReadLowWatermarks(servers, file.Topic, tallies);
        }
        catch (OperationCanceledException)
        {
            console.Error.WriteLine(cancellationToken.IsCancellationRequested ? "error: interrupted before the whole range was read" : "error: the range was not read within the timeout");
            return ExitCodes.Failed;
        }
        catch (KafkaException e)
        {
            console.Error.WriteLine($"error: {e.Message}");
            return ExitCodes.Failed;
        }

        var result = DeliveryReconciliation.Reconcile(file.RunId, file.Topic, file.ClientRecords(), landed, tallies.Values.ToList());
        AuditText.Write(console.Error, result);
        var agrees = true;
        if (file.Writer is { } writer)
        {
            var differences = AuditResult.Differences(writer.Totals, result.Totals);
            agrees = differences.Count == 0;
            console.Error.WriteLine(agrees
                ? "agrees with the audit in the file (the harness's): every total is the same"
                : $"differs from the audit in the file (the harness's, then this one's): {string.Join("; ", differences)}");
        }

        console.Error.Flush();
        return result.Passed && agrees ? ExitCodes.Success : ExitCodes.VerificationFailed;
    }

    private static void Consume(string servers, string topic, Dictionary<int, PartitionTally> tallies, Dictionary<string, LandedEvents> landed, string prefix, CancellationToken cancellationToken)
    {
        var pending = tallies.Values.Where(t => t.EndOffset > t.StartOffset).ToDictionary(t => t.Partition);
        if (pending.Count == 0)
        {
            return;
        }

        var config = KafkaClientDefaults.FastConsumer(servers, $"ingest-listener-audit-{Guid.NewGuid():N}");
        using var consumer = new ConsumerBuilder<Ignore, byte[]>(config).SetLogHandler((_, _) => { }).SetErrorHandler((_, _) => { }).Build();
        consumer.Assign(pending.Values.Select(t => new TopicPartitionOffset(topic, t.Partition, t.StartOffset)));
        try
        {
            while (pending.Count > 0)
            {
                cancellationToken.ThrowIfCancellationRequested();
                ConsumeResult<Ignore, byte[]>? record;
                try
                {
                    record = consumer.Consume(TimeSpan.FromMilliseconds(100));
                }
                catch (ConsumeException e) when (!e.Error.IsFatal)
                {
                    continue;
                }

                if (record?.Message is null)
                {
                    continue;
                }

                var partition = record.Partition.Value;
                if (!pending.TryGetValue(partition, out var tally) || record.Offset.Value >= tally.EndOffset)
                {
                    continue; // past the run's range
                }

                var ofTheRun = TryReadEvent(record.Message.Value, prefix, out var clientId, out var n) && landed.ContainsKey(clientId);
                tally.Read(record.Offset.Value, ofTheRun);
                if (ofTheRun)
                {
                    landed[clientId].Add(n);
                }

                if (record.Offset.Value + 1 >= tally.EndOffset)
                {
                    pending.Remove(partition);
                }
            }
        }
        finally
        {
            consumer.Close();
        }
    }

    /// <summary>The clientId and event number of a run's event: <c>msg</c> starts with the run id, its last word is n.</summary>
    internal static bool TryReadEvent(byte[]? value, string prefix, out string clientId, out int n)
    {
        clientId = "";
        n = -1;
        if (value is null)
        {
            return false;
        }

        string? msg = null, id = null;
        try
        {
            var reader = new Utf8JsonReader(value);
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                return false;
            }

            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                var name = reader.GetString();
                reader.Read();
                if (reader.TokenType == JsonTokenType.String && name == "msg")
                {
                    msg = reader.GetString();
                }
                else if (reader.TokenType == JsonTokenType.String && name == "clientId")
                {
                    id = reader.GetString();
                }
                else
                {
                    reader.Skip();
                }
            }
        }
        catch (JsonException)
        {
            return false;
        }

        if (msg is null || id is null || !msg.StartsWith(prefix, StringComparison.Ordinal))
        {
            return false;
        }

        var last = msg.LastIndexOf(' ');
        if (!int.TryParse(msg.AsSpan(last + 1), NumberStyles.None, CultureInfo.InvariantCulture, out n))
        {
            return false;
        }

        clientId = id;
        return true;
    }

    private static void ReadLowWatermarks(string servers, string topic, Dictionary<int, PartitionTally> tallies)
    {
        using var consumer = new ConsumerBuilder<Ignore, Ignore>(new ConsumerConfig { BootstrapServers = servers, GroupId = $"ingest-listener-audit-{Guid.NewGuid():N}" }).Build();
        foreach (var tally in tallies.Values)
        {
            tally.LowAtEnd = consumer.QueryWatermarkOffsets(new TopicPartition(topic, tally.Partition), TimeSpan.FromSeconds(10)).Low.Value;
        }
    }
}
