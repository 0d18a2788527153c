using System.Diagnostics;
using System.Text;
using Confluent.Kafka;
using Ingest.Contracts;
using Ingest.Kafka;
using Ingest.LoadTest.Engine;

namespace Ingest.LoadTest.Bench;

/// <summary>
/// The ceiling: one Confluent.Kafka producer with the gateway's settings (idempotent, acks=all,
/// lz4, linger 5 ms, 1 MiB batches, 64 MiB queue) producing the same events with the same keys and
/// the gateway's three headers, counting deliveries in the delivery handler.
/// </summary>
internal static class RawProducerBench
{
    public static RawProducerResult Run(string bootstrapServers, string topic, int clients, int events)
    {
        var config = KafkaClientDefaults.IdempotentProducer(bootstrapServers);
        config.BatchSize = 1_048_576;
        config.QueueBufferingMaxKbytes = 65_536;
        config.DeliveryReportFields = "status";
        using var producer = new ProducerBuilder<byte[], byte[]>(config).Build();

        var runId = $"raw{Guid.NewGuid():N}"[..11];
        var values = new byte[events][];
        var keys = new byte[clients][];
        for (var c = 0; c < clients; c++)
        {
            keys[c] = Encoding.UTF8.GetBytes(TestEvents.ClientId(c));
        }

        var timestamp = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        for (var i = 0; i < events; i++)
        {
            values[i] = TestEvents.Message(runId, i % clients, i / clients, 1, timestamp, asArray: false);
        }

        var gatewayHeader = Encoding.UTF8.GetBytes($"bench-{Environment.ProcessId}");
        long delivered = 0, failed = 0;
        void OnDelivery(DeliveryReport<byte[], byte[]> report)
        {
            if (report.Error.IsError)
            {
                Interlocked.Increment(ref failed);
            }
            else
            {
                Interlocked.Increment(ref delivered);
            }
        }

        var started = Stopwatch.GetTimestamp();
        for (var i = 0; i < events; i++)
        {
            var headers = new Headers
            {
                { IngestHeaders.ReceivedAt, Encoding.ASCII.GetBytes(DateTimeOffset.UtcNow.ToUnixTimeMilliseconds().ToString(System.Globalization.CultureInfo.InvariantCulture)) },
                { IngestHeaders.Connection, keys[i % clients] },
                { IngestHeaders.Gateway, gatewayHeader },
            };
            var message = new Message<byte[], byte[]> { Key = keys[i % clients], Value = values[i], Headers = headers };
            while (true)
            {
                try
                {
                    producer.Produce(topic, message, OnDelivery);
                    break;
                }
                catch (ProduceException<byte[], byte[]> e) when (e.Error.Code == ErrorCode.Local_QueueFull)
                {
                    producer.Poll(TimeSpan.FromMilliseconds(10));
                }
            }
        }

        producer.Flush(TimeSpan.FromMinutes(2));
        var elapsed = Stopwatch.GetElapsedTime(started);
        return new RawProducerResult(events, Interlocked.Read(ref delivered), Interlocked.Read(ref failed), elapsed);
    }
}

internal sealed record RawProducerResult(long Produced, long Delivered, long Failed, TimeSpan Elapsed)
{
    public double EventsPerSecond => Delivered / Elapsed.TotalSeconds;
}
