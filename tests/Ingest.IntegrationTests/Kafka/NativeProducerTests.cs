using System.Collections.Concurrent;
using System.Text;
using Confluent.Kafka;
using Ingest.Kafka;
using Ingest.Kafka.Embedded;
using Ingest.Kafka.Native;
using Ingest.Testing;

namespace Ingest.IntegrationTests.Kafka;

/// <summary>
/// The project's own librdkafka producer (<see cref="NativeProducer"/>) against the mock cluster over
/// TCP: what it writes is what a Confluent.Kafka consumer reads back, every record's report carries
/// its opaque value, and librdkafka's refusals come back as Confluent.Kafka's errors.
/// </summary>
public sealed class NativeProducerTests
{
    [Fact]
    public void Records_LandWithTheirKeysValuesAndHeaders_AndEachReportCarriesItsOpaque()
    {
        using var cluster = EmbeddedKafkaCluster.Start(brokerCount: 1);
        cluster.CreateTopic("native", partitions: 3);
        cluster.CreateTopic("native-odd", partitions: 1);
        var events = new Recorder();
        using (var producer = new NativeProducer(KafkaClientDefaults.IdempotentProducer(cluster.BootstrapServers), events))
        {
            Assert.StartsWith("rdkafka#producer-", producer.Name, StringComparison.Ordinal);
            for (var i = 1; i <= 100; i++)
            {
                var headers = new Headers
                {
                    { "n", Encoding.UTF8.GetBytes($"{i}") },
                    { "fixed", "same"u8.ToArray() },
                };
                Assert.Equal(ErrorCode.NoError, producer.Produce("native", Encoding.UTF8.GetBytes($"key{i % 7}"), Encoding.UTF8.GetBytes($"value {i}"), headers, i));
            }

            // No key, an empty value, a header without a value and one with an empty value.
            var odd = new Headers { { "none", null! }, { "empty", [] } };
            Assert.Equal(ErrorCode.NoError, producer.Produce("native-odd", default, Array.Empty<byte>(), odd, 101));
            Assert.Equal(0, producer.Flush(TimeSpan.FromSeconds(30)));
        }

        Assert.Equal(Enumerable.Range(1, 101).Select(i => (nint)i), events.Delivered.Order());
        Assert.Empty(events.Failed);

        var records = TopicReader.ReadAll(cluster.BootstrapServers, "native", 100, TimeSpan.FromSeconds(30));
        Assert.Equal(100, records.Count);
        foreach (var record in records)
        {
            var n = int.Parse(record.Headers["n"], System.Globalization.CultureInfo.InvariantCulture);
            Assert.Equal($"key{n % 7}", record.Key);
            Assert.Equal($"value {n}", record.Text);
            Assert.Equal("same", record.Headers["fixed"]);
        }

        // Records of one key share a partition (librdkafka's default partitioner, as Confluent.Kafka's).
        Assert.All(records.GroupBy(r => r.Key), key => Assert.Single(key.Select(r => r.Partition).Distinct()));

        var last = Assert.Single(ReadRaw(cluster.BootstrapServers, "native-odd"));
        Assert.Null(last.Key);
        Assert.NotNull(last.Value);
        Assert.Empty(last.Value);
        Assert.Null(last.Headers.Single(h => h.Key == "none").GetValueBytes());
        Assert.Empty(last.Headers.Single(h => h.Key == "empty").GetValueBytes());
    }

    [Fact]
    public void WithoutItsPollThread_ReportsComeOnlyFromTheCallersPolls_OnTheCallersThread()
    {
        using var cluster = EmbeddedKafkaCluster.Start(brokerCount: 1);
        cluster.CreateTopic("native-caller", partitions: 2);
        var events = new Recorder();
        using var producer = new NativeProducer(KafkaClientDefaults.IdempotentProducer(cluster.BootstrapServers), events, pollThread: false);
        for (var i = 1; i <= 20; i++)
        {
            Assert.Equal(ErrorCode.NoError, producer.Produce("native-caller", Encoding.UTF8.GetBytes($"key{i}"), Encoding.UTF8.GetBytes($"value {i}"), null, i));
        }

        // Every record is in Kafka, and nothing has polled: librdkafka keeps the reports for the caller.
        Assert.Equal(20, TopicReader.ReadAll(cluster.BootstrapServers, "native-caller", 20, TimeSpan.FromSeconds(30)).Count);
        Assert.Empty(events.Delivered);
        Assert.True(producer.QueueLength > 0);

        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (producer.QueueLength > 0 && DateTime.UtcNow < deadline)
        {
            producer.Poll(TimeSpan.FromMilliseconds(100));
        }

        Assert.Equal(Enumerable.Range(1, 20).Select(i => (nint)i), events.Delivered.Order());
        Assert.Empty(events.Failed);
        Assert.Equal(Environment.CurrentManagedThreadId, Assert.Single(events.DeliveryThreads.Distinct()));
    }

    [Fact]
    public void AnUnknownProperty_IsRefused_WithLibrdkafkasReason()
    {
        var config = new ProducerConfig { BootstrapServers = "127.0.0.1:9" };
        config.Set("no.such.property", "1");

        var e = Assert.Throws<ArgumentException>(() => new NativeProducer(config, new Recorder()));

        Assert.Contains("no.such.property", e.Message, StringComparison.Ordinal);
        Assert.Contains("No such configuration property", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ConfluentKafkasOwnKeys_AreSkipped()
    {
        var config = new ProducerConfig { BootstrapServers = "127.0.0.1:9", DeliveryReportFields = "status" };

        // Made, not refused: librdkafka would refuse dotnet.producer.delivery.report.fields.
        // (Not its queue length: errors about the unreachable broker may already be queued.)
        using var producer = new NativeProducer(config, new Recorder());

        Assert.StartsWith("rdkafka#producer-", producer.Name, StringComparison.Ordinal);
    }

    [Fact]
    public void ATopicTheBrokerRefuses_ReportsTheRecordFailed_WithinTheMessageTimeout()
    {
        using var cluster = EmbeddedKafkaCluster.Start(brokerCount: 1);
        var config = KafkaClientDefaults.IdempotentProducer(cluster.BootstrapServers);
        config.MessageTimeoutMs = 1_000;
        var events = new Recorder();
        cluster.CreateTopic("missing", partitions: 1);
        cluster.SetTopicError("missing", ErrorCode.UnknownTopicOrPart); // as if it had been deleted
        using (var producer = new NativeProducer(config, events))
        {
            Assert.Equal(ErrorCode.NoError, producer.Produce("missing", "k"u8, "v"u8, null, 7));
            Assert.Equal(0, producer.Flush(TimeSpan.FromSeconds(30)));
        }

        var (opaque, error) = Assert.Single(events.Failed);
        Assert.Equal(7, opaque);
        Assert.NotEqual(ErrorCode.NoError, error);
        Assert.Empty(events.Delivered);
    }

    [Fact]
    public void Transactions_CommitTheirRecords_AndWithoutATransactionalIdRefuseAsConfluentKafkaDoes()
    {
        using var cluster = EmbeddedKafkaCluster.Start(brokerCount: 1);
        cluster.CreateTopic("native-tx", partitions: 1);
        var plain = new Recorder();
        using (var producer = new NativeProducer(KafkaClientDefaults.IdempotentProducer(cluster.BootstrapServers), plain))
        {
            var e = Assert.ThrowsAny<KafkaException>(() => producer.InitTransactions(TimeSpan.FromSeconds(5)));
            Assert.Equal(ErrorCode.Local_NotConfigured, e.Error.Code);
        }

        var config = KafkaClientDefaults.IdempotentProducer(cluster.BootstrapServers);
        config.TransactionalId = "native-tx-test";
        var events = new Recorder();
        using (var producer = new NativeProducer(config, events))
        {
            producer.InitTransactions(TimeSpan.FromSeconds(30));
            producer.BeginTransaction();
            Assert.Equal(ErrorCode.NoError, producer.Produce("native-tx", "k"u8, "committed"u8, null, 1));
            producer.CommitTransaction(TimeSpan.FromSeconds(30));
            producer.BeginTransaction();
            Assert.Equal(ErrorCode.NoError, producer.Produce("native-tx", "k"u8, "aborted"u8, null, 2));
            producer.AbortTransaction(TimeSpan.FromSeconds(30));
            Assert.Null(producer.FatalError());
        }

        // The committed record was written; the aborted one was reported once, written or purged
        // (the abort purges what is still queued; what the broker already has is reported written).
        Assert.Contains((nint)1, events.Delivered);
        Assert.Single(events.Delivered.Concat(events.Failed.Select(f => f.Opaque)), opaque => opaque == 2);
        Assert.All(events.Failed, f => Assert.True(f.Error is ErrorCode.Local_PurgeQueue or ErrorCode.Local_PurgeInflight, $"{f.Error}"));
    }

    private static List<Message<byte[], byte[]>> ReadRaw(string bootstrapServers, string topic)
    {
        var config = KafkaClientDefaults.FastConsumer(bootstrapServers, $"test-raw-{Guid.NewGuid():N}");
        config.EnablePartitionEof = true;
        using var consumer = new ConsumerBuilder<byte[], byte[]>(config).SetLogHandler((_, _) => { }).Build();
        var partitions = TopicWatermarks.GetPartitions(bootstrapServers, topic, TimeSpan.FromSeconds(10));
        consumer.Assign(partitions.Select(p => new TopicPartitionOffset(topic, p, Offset.Beginning)));
        var messages = new List<Message<byte[], byte[]>>();
        var atEnd = new HashSet<int>();
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (DateTime.UtcNow < deadline && atEnd.Count < partitions.Count)
        {
            if (consumer.Consume(TimeSpan.FromMilliseconds(100)) is not { } result)
            {
                continue;
            }

            if (result.IsPartitionEOF)
            {
                atEnd.Add(result.Partition.Value);
            }
            else
            {
                messages.Add(result.Message);
            }
        }

        return messages;
    }

    private sealed class Recorder : INativeProducerEvents
    {
        public ConcurrentQueue<nint> Delivered { get; } = new();

        public ConcurrentQueue<(nint Opaque, ErrorCode Error)> Failed { get; } = new();

        /// <summary>The managed thread of each report.</summary>
        public ConcurrentQueue<int> DeliveryThreads { get; } = new();

        public void OnDelivery(nint opaque, ErrorCode error)
        {
            DeliveryThreads.Enqueue(Environment.CurrentManagedThreadId);
            if (error == ErrorCode.NoError)
            {
                Delivered.Enqueue(opaque);
            }
            else
            {
                Failed.Enqueue((opaque, error));
            }
        }

        public void OnError(Error error)
        {
        }

        public void OnLog(int level, string facility, string message)
        {
        }

        public void OnStatistics(string json)
        {
        }
    }
}
