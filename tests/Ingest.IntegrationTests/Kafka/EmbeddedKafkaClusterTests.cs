using System.Collections.Concurrent;
using System.Text;
using Confluent.Kafka;
using Ingest.Kafka;
using Ingest.Kafka.Embedded;

namespace Ingest.IntegrationTests.Kafka;

public sealed class EmbeddedKafkaClusterTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    [Fact]
    public void Watermarks_PastTheMocksRetention_CountRecordsShrinks_CountAppendedDoesNot()
    {
        using var cluster = EmbeddedKafkaCluster.Start(brokerCount: 1);
        cluster.CreateTopic("retained", partitions: 1);
        const int count = 8_000;
        var random = new Random(42);

        using (var producer = new ProducerBuilder<string, string>(KafkaClientDefaults.IdempotentProducer(cluster.BootstrapServers)).Build())
        {
            for (var i = 0; i < count; i++)
            {
                // Random bytes: 8 MiB in all even compressed, past the mock's 5 MiB per partition.
                producer.Produce("retained", new Message<string, string> { Key = "k", Value = Convert.ToBase64String(random.GetItems<byte>(Enumerable.Range(0, 256).Select(b => (byte)b).ToArray(), 768)) });
            }

            Assert.Equal(0, producer.Flush(Timeout));
        }

        Assert.Equal(count, TopicWatermarks.CountAppended(cluster.BootstrapServers, "retained", Timeout));
        Assert.InRange(TopicWatermarks.CountRecords(cluster.BootstrapServers, "retained", Timeout), 1, count - 1);
    }

    [Fact]
    public void Start_ListensOnLoopback_WithOneAddressPerBroker()
    {
        using var cluster = EmbeddedKafkaCluster.Start(brokerCount: 3);

        var addresses = cluster.BootstrapServers.Split(',');
        Assert.Equal(3, addresses.Length);
        Assert.All(addresses, a => Assert.StartsWith("127.0.0.1:", a, StringComparison.Ordinal));
    }

    [Fact]
    public void ProducedRecords_AreConsumedOverTcp_WithKeysValuesAndHeaders()
    {
        using var cluster = EmbeddedKafkaCluster.Start(brokerCount: 1);
        cluster.CreateTopic("roundtrip", partitions: 4);
        const int count = 5_000;

        using (var producer = new ProducerBuilder<string, string>(KafkaClientDefaults.IdempotentProducer(cluster.BootstrapServers)).Build())
        {
            for (var i = 0; i < count; i++)
            {
                var headers = new Headers { { "n", Encoding.ASCII.GetBytes(i.ToString(System.Globalization.CultureInfo.InvariantCulture)) } };
                producer.Produce("roundtrip", new Message<string, string> { Key = $"k{i % 7}", Value = $"v{i}", Headers = headers });
            }

            Assert.Equal(0, producer.Flush(Timeout));
        }

        Assert.Equal(count, TopicWatermarks.CountRecords(cluster.BootstrapServers, "roundtrip", Timeout));
        var seen = ConsumeAll(cluster.BootstrapServers, "roundtrip", count);
        Assert.Equal(count, seen.Count);
        for (var i = 0; i < count; i++)
        {
            var record = seen[$"v{i}"];
            Assert.Equal($"k{i % 7}", record.Key);
            Assert.Equal(i.ToString(System.Globalization.CultureInfo.InvariantCulture), Encoding.ASCII.GetString(record.Headers.GetLastBytes("n")));
        }

        // One key, one partition: per-key order is preserved.
        var byKey = seen.Values.GroupBy(r => r.Key);
        Assert.All(byKey, g => Assert.Single(g.Select(r => r.Partition).Distinct()));
    }

    [Fact]
    public async Task IdempotentProducer_BrokerDownThenUp_DeliversEveryRecordExactlyOnce()
    {
        using var cluster = EmbeddedKafkaCluster.Start(brokerCount: 1);
        cluster.CreateTopic("faults", partitions: 2);
        const int count = 20_000;
        var failures = new ConcurrentBag<Error>();
        var delivered = 0;
        var config = KafkaClientDefaults.IdempotentProducer(cluster.BootstrapServers);
        config.MessageTimeoutMs = 60_000;

        using (var producer = new ProducerBuilder<Null, string>(config).Build())
        {
            void Produce(int from, int to)
            {
                for (var i = from; i < to; i++)
                {
                    producer.Produce("faults", new Message<Null, string> { Value = $"e{i}" }, report =>
                    {
                        if (report.Error.IsError)
                        {
                            failures.Add(report.Error);
                        }
                        else
                        {
                            Interlocked.Increment(ref delivered);
                        }
                    });
                }
            }

            Produce(0, count / 2);
            Assert.Equal(0, producer.Flush(Timeout));
            cluster.SetBrokerDown(1);
            Produce(count / 2, count);
            // The fault lasts two seconds while the producer holds the second half.
            await Task.Delay(TimeSpan.FromSeconds(2), TestContext.Current.CancellationToken);
            Assert.True(delivered <= count / 2, "nothing can be delivered while the only broker is down");
            cluster.SetBrokerUp(1);
            Assert.Equal(0, producer.Flush(Timeout));
        }

        Assert.Empty(failures);
        Assert.Equal(count, delivered);
        var seen = ConsumeAll(cluster.BootstrapServers, "faults", count);
        Assert.Equal(count, seen.Count);
        Assert.Equal(count, TopicWatermarks.CountRecords(cluster.BootstrapServers, "faults", Timeout));
    }

    private static Dictionary<string, ConsumedRecord> ConsumeAll(string bootstrapServers, string topic, int expected)
    {
        var records = new Dictionary<string, ConsumedRecord>();
        using var consumer = new ConsumerBuilder<string, string>(KafkaClientDefaults.FastConsumer(bootstrapServers, $"test-{Guid.NewGuid():N}")).Build();
        consumer.Subscribe(topic);
        var deadline = DateTime.UtcNow + Timeout;
        var total = 0;
        while (total < expected && DateTime.UtcNow < deadline)
        {
            var result = consumer.Consume(TimeSpan.FromMilliseconds(200));
            if (result is null)
            {
                continue;
            }

            total++;
            Assert.True(records.TryAdd(result.Message.Value, new ConsumedRecord(result.Message.Key, result.Partition.Value, result.Message.Headers)), $"duplicate {result.Message.Value}");
        }

        consumer.Close();
        return records;
    }

    private sealed record ConsumedRecord(string Key, int Partition, Headers Headers);
}
