using Confluent.Kafka;

namespace Ingest.Kafka;

/// <summary>Counts the records of a topic from its partitions' watermarks, without consuming.</summary>
public static class TopicWatermarks
{
    /// <summary>Sum over partitions of (high - low) watermark: the records the topic holds.</summary>
    public static long CountRecords(string bootstrapServers, string topic, TimeSpan timeout) =>
        Sum(bootstrapServers, topic, timeout, offsets => offsets.High.Value - offsets.Low.Value);

    /// <summary>
    /// Sum over partitions of the high watermark: the records ever appended (without transactions),
    /// which retention does not lower. The difference of two calls counts what was written between.
    /// </summary>
    public static long CountAppended(string bootstrapServers, string topic, TimeSpan timeout) =>
        Sum(bootstrapServers, topic, timeout, offsets => offsets.High.Value);

    private static long Sum(string bootstrapServers, string topic, TimeSpan timeout, Func<WatermarkOffsets, long> count)
    {
        var partitions = GetPartitions(bootstrapServers, topic, timeout);
        using var consumer = new ConsumerBuilder<Ignore, Ignore>(new ConsumerConfig
        {
            BootstrapServers = bootstrapServers,
            GroupId = $"ingest-watermarks-{Guid.NewGuid():N}",
        }).Build();
        long total = 0;
        foreach (var partition in partitions)
        {
            var offsets = consumer.QueryWatermarkOffsets(new TopicPartition(topic, partition), timeout);
            total += count(offsets);
        }

        return total;
    }

    /// <summary>The partition ids of a topic, from cluster metadata.</summary>
    public static IReadOnlyList<int> GetPartitions(string bootstrapServers, string topic, TimeSpan timeout)
    {
        using var admin = new AdminClientBuilder(new AdminClientConfig { BootstrapServers = bootstrapServers }).Build();
        var metadata = admin.GetMetadata(topic, timeout);
        var topicMetadata = metadata.Topics.Single(t => t.Topic == topic);
        if (topicMetadata.Error.IsError)
        {
            throw new KafkaException(topicMetadata.Error);
        }

        return topicMetadata.Partitions.Select(p => p.PartitionId).OrderBy(p => p).ToArray();
    }
}
