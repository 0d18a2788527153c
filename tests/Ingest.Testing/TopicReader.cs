using System.Text;
using Confluent.Kafka;
using Ingest.Kafka;

namespace Ingest.Testing;

/// <summary>A record read back from Kafka.</summary>
internal sealed record KafkaRecord(string? Key, byte[] Value, int Partition, long Offset, IReadOnlyDictionary<string, string> Headers, Timestamp Timestamp)
{
    public string Text => Encoding.UTF8.GetString(Value);
}

/// <summary>Reads a topic from the beginning over TCP, as any consumer would.</summary>
internal static class TopicReader
{
    /// <summary>
    /// Reads until <paramref name="expected"/> records arrived, then keeps reading until the end of
    /// every partition (so that extra records, such as duplicates, are seen too).
    /// </summary>
    public static List<KafkaRecord> ReadAll(string bootstrapServers, string topic, int expected, TimeSpan? timeout = null)
    {
        var config = KafkaClientDefaults.FastConsumer(bootstrapServers, $"test-reader-{Guid.NewGuid():N}");
        config.EnablePartitionEof = true;
        using var consumer = new ConsumerBuilder<byte[], byte[]>(config).SetLogHandler((_, _) => { }).Build();
        var partitions = TopicWatermarks.GetPartitions(bootstrapServers, topic, TimeSpan.FromSeconds(10));
        consumer.Assign(partitions.Select(p => new TopicPartitionOffset(topic, p, Offset.Beginning)));
        var records = new List<KafkaRecord>();
        var atEnd = new HashSet<int>();
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(60));
        while (DateTime.UtcNow < deadline && !(records.Count >= expected && atEnd.Count == partitions.Count))
        {
            var result = consumer.Consume(TimeSpan.FromMilliseconds(100));
            if (result is null)
            {
                continue;
            }

            if (result.IsPartitionEOF)
            {
                atEnd.Add(result.Partition.Value);
                continue;
            }

            atEnd.Remove(result.Partition.Value);
            var headers = result.Message.Headers?.ToDictionary(h => h.Key, h => Encoding.UTF8.GetString(h.GetValueBytes()))
                ?? new Dictionary<string, string>();
            records.Add(new KafkaRecord(
                result.Message.Key is null ? null : Encoding.UTF8.GetString(result.Message.Key),
                result.Message.Value,
                result.Partition.Value,
                result.Offset.Value,
                headers,
                result.Message.Timestamp));
        }

        return records;
    }
}
