using System.Diagnostics;
using System.Globalization;
using System.Text;
using Confluent.Kafka;
using Ingest.Contracts;
using Ingest.Kafka;
using Ingest.Kafka.Embedded;
using Ingest.Listener.Cli;
using Ingest.Listener.Output;

namespace Ingest.Listener.Benchmarks;

/// <summary>
/// Throughput of the listener's own path against the floor set by the client library: starts an
/// embedded broker, produces gateway-shaped records (lz4, linger 5 ms, so the mock keeps them all
/// and hands them out in large batches), then reads them all with a bare consumer loop and with
/// the listener in several modes, in the same process, one after the other.
/// </summary>
internal static class ListenerBenchmark
{
    private const string Topic = "bench";
    private static readonly TimeSpan Timeout = TimeSpan.FromMinutes(5);

    public static async Task<int> RunAsync(int events, int partitions, TextWriter report, CancellationToken cancellationToken)
    {
        var culture = CultureInfo.InvariantCulture;
        using var cluster = EmbeddedKafkaCluster.Start(brokerCount: 1);
        cluster.CreateTopic(Topic, partitions);
        report.WriteLine(string.Create(culture, $"embedded broker {cluster.BootstrapServers}, topic {Topic} with {partitions} partitions, {Environment.ProcessorCount} cores"));

        var produced = Stopwatch.StartNew();
        Produce(cluster.BootstrapServers, events);
        produced.Stop();
        report.WriteLine(string.Create(culture, $"produced {events:N0} records in {produced.Elapsed.TotalSeconds:0.00} s ({events / produced.Elapsed.TotalSeconds:N0}/s)"));

        // The mock silently drops the oldest batches past 5 MiB per partition: count what it holds.
        var held = TopicWatermarks.CountRecords(cluster.BootstrapServers, Topic, TimeSpan.FromSeconds(30));
        if (held != events)
        {
            report.WriteLine(string.Create(culture, $"error: the broker holds {held:N0} of {events:N0} records; use more partitions"));
            return ExitCodes.Failed;
        }

        var raw = RawConsumerLoop(cluster.BootstrapServers, events);
        Line(report, "raw Confluent.Kafka loop", events, raw, raw);
        var quiet = await ListenerAsync(cluster.BootstrapServers, events, ["--quiet"], cancellationToken);
        Line(report, "listener --quiet", events, quiet, raw);
        var json = await ListenerAsync(cluster.BootstrapServers, events, ["--format", "json"], cancellationToken);
        Line(report, "listener --format json", events, json, raw);
        var text = await ListenerAsync(cluster.BootstrapServers, events, ["--format", "text"], cancellationToken);
        Line(report, "listener --format text", events, text, raw);
        var verify = await ListenerAsync(cluster.BootstrapServers, events, ["--quiet", "--verify"], cancellationToken);
        Line(report, "listener --quiet --verify", events, verify, raw);
        report.WriteLine("(each pass includes creating its consumer and joining a fresh group; output goes to a null writer)");
        return ExitCodes.Success;
    }

    private static void Produce(string bootstrapServers, int events)
    {
        var config = KafkaClientDefaults.IdempotentProducer(bootstrapServers);
        config.QueueBufferingMaxMessages = 1_000_000;
        using var producer = new ProducerBuilder<byte[], byte[]>(config).Build();
        var source = IngestHeaders.SourceValue("c-1"u8, "bench"u8); // a connection id and a gateway id, as the gateway writes them
        var clientIds = Enumerable.Range(1, 100).Select(i => Encoding.UTF8.GetBytes($"client {i}")).ToArray();
        const long firstTimestamp = 1456862575765;
        for (var i = 0; i < events; i++)
        {
            var clientId = i % clientIds.Length;
            var message = new Message<byte[], byte[]>
            {
                Key = clientIds[clientId],
                Value = Encoding.UTF8.GetBytes(string.Create(CultureInfo.InvariantCulture, $"{{\"msg\":\"msg number {i}\",\"clientId\":\"client {clientId + 1}\",\"timestamp\":{firstTimestamp + i}}}")),
                Headers = new Headers { { IngestHeaders.Source, source } },
            };
            while (true)
            {
                try
                {
                    producer.Produce(Topic, message);
                    break;
                }
                catch (ProduceException<byte[], byte[]> e) when (e.Error.Code == ErrorCode.Local_QueueFull)
                {
                    producer.Poll(TimeSpan.FromMilliseconds(10));
                }
            }
        }

        if (producer.Flush(Timeout) != 0)
        {
            throw new InvalidOperationException("The benchmark producer could not deliver every record.");
        }
    }

    private static TimeSpan RawConsumerLoop(string bootstrapServers, int events)
    {
        var elapsed = Stopwatch.StartNew();
        var config = KafkaClientDefaults.FastConsumer(bootstrapServers, $"bench-raw-{Guid.NewGuid():N}");
        using var consumer = new ConsumerBuilder<byte[]?, byte[]?>(config).Build();
        consumer.Subscribe(Topic);
        var seen = 0;
        while (seen < events && elapsed.Elapsed < Timeout)
        {
            if (consumer.Consume(TimeSpan.FromMilliseconds(100)) is not null)
            {
                seen++;
            }
        }

        elapsed.Stop();
        consumer.Close();
        if (seen != events)
        {
            throw new InvalidOperationException($"The raw consumer saw {seen} of {events} records.");
        }

        return elapsed.Elapsed;
    }

    private static async Task<TimeSpan> ListenerAsync(string bootstrapServers, int events, string[] mode, CancellationToken cancellationToken)
    {
        var console = new ListenerConsole(TextWriter.Null, new StringWriter(CultureInfo.InvariantCulture));
        string[] args = ["--bootstrap", bootstrapServers, "--topic", Topic, "--from-beginning", "--count", events.ToString(CultureInfo.InvariantCulture), "--timeout", Timeout.TotalSeconds.ToString(CultureInfo.InvariantCulture), .. mode];
        var elapsed = Stopwatch.StartNew();
        var exitCode = await ListenerCommand.InvokeAsync(args, console, () => null, handleTermination: false, cancellationToken);
        elapsed.Stop();
        if (exitCode != ExitCodes.Success)
        {
            throw new InvalidOperationException($"listener {string.Join(' ', mode)} exited with {exitCode}: {console.Error}");
        }

        return elapsed.Elapsed;
    }

    private static void Line(TextWriter report, string what, int events, TimeSpan elapsed, TimeSpan raw) =>
        report.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{what,-28} {elapsed.TotalSeconds,7:0.000} s {events / elapsed.TotalSeconds,12:N0} events/s   {raw.TotalSeconds / elapsed.TotalSeconds,5:0.00}x raw"));
}
