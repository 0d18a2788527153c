using System.Diagnostics.Metrics;
using System.Text.Json;
using Ingest.Gateway.Diagnostics;
using Ingest.Gateway.Kafka;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;

namespace Ingest.UnitTests.Kafka;

/// <summary>
/// librdkafka's statistics (<c>statistics.interval.ms</c>) read into the <c>ingest.kafka.*</c>
/// instruments, from a document librdkafka wrote: a producer with two brokers of the embedded
/// cluster, broker 1 answering 150 ms late, 5,058 messages queued.
/// </summary>
public sealed class KafkaStatisticsTests
{
    private static readonly string Captured = File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Kafka", "librdkafka-statistics.json"));

    [Fact]
    public void Parse_ReadsTheQueueAndEachBroker_RoundTripsInSeconds()
    {
        var statistics = KafkaStatisticsSnapshot.Parse(Captured);

        Assert.Equal((5_058L, 505_800L, 100_000L, 1_073_741_824L), (statistics.QueueMessages, statistics.QueueBytes, statistics.QueueMessagesLimit, statistics.QueueBytesLimit));
        Assert.Equal(
            [
                new BrokerStatistics("127.0.0.1:43571/1", 1, "UP", 0.154604, 0.156671, 0, 0, 2, 3_114, 0, 0, 0, 0),
                new BrokerStatistics("127.0.0.1:43037/2", 2, "UP", 0.001981, 0.012991, 0, 0, 0, 0, 0, 0, 0, 0),
            ],
            statistics.Brokers);
    }

    [Fact]
    public void Parse_LeavesOutBrokersWithoutAnId_AndReadsCountersThatMoved()
    {
        // The same document as librdkafka writes it before it knows the brokers' ids (a bootstrap
        // entry, id -1), and after errors: only the numbers differ.
        using var captured = JsonDocument.Parse(Captured);
        var brokers = captured.RootElement.GetProperty("brokers").EnumerateObject().ToArray();
        var learned = brokers.Single(b => b.Value.GetProperty("nodeid").GetInt32() == 1).Value.GetRawText()
            .Replace("\"txerrs\": 0", "\"txerrs\": 3", StringComparison.Ordinal)
            .Replace("\"rxerrs\": 0", "\"rxerrs\": 4", StringComparison.Ordinal)
            .Replace("\"txretries\": 0", "\"txretries\": 5", StringComparison.Ordinal)
            .Replace("\"req_timeouts\": 0", "\"req_timeouts\": 6", StringComparison.Ordinal);
        var bootstrap = brokers.Single(b => b.Value.GetProperty("nodeid").GetInt32() == 2).Value.GetRawText()
            .Replace("\"nodeid\": 2", "\"nodeid\": -1", StringComparison.Ordinal)
            .Replace("127.0.0.1:43037/2", "127.0.0.1:43037/bootstrap", StringComparison.Ordinal);
        var json = $"{{\"msg_cnt\": 1, \"brokers\": {{\"127.0.0.1:43571/1\": {learned}, \"127.0.0.1:43037/bootstrap\": {bootstrap}}}}}";

        var broker = Assert.Single(KafkaStatisticsSnapshot.Parse(json).Brokers);

        Assert.Equal((1, 3L, 4L, 5L, 6L), (broker.NodeId, broker.TxErrors, broker.RxErrors, broker.TxRetries, broker.RequestTimeouts));
    }

    [Fact]
    public void Instruments_ReportTheLatestDocument_PerBroker_AndNothingWithoutOne()
    {
        using var services = new ServiceCollection().AddMetrics().BuildServiceProvider();
        var metrics = new IngestMetrics(services.GetRequiredService<IMeterFactory>());
        var statistics = new KafkaStatistics(metrics, NullLogger<KafkaStatistics>.Instance);
        using var collector = new Collector(metrics.Meter);

        Assert.Empty(collector.Collect()); // no document yet: no measurement at all

        statistics.Received(Captured);
        statistics.Received("not JSON"); // a later document replaces it before anyone collects
        statistics.Received(Captured.Replace("\"msg_cnt\": 5058", "\"msg_cnt\": 7", StringComparison.Ordinal));
        var measured = collector.Collect();

        Assert.Equal(3, statistics.Documents);
        Assert.Equal(7, measured[("ingest.kafka.producer.queue.messages", null)]);
        Assert.Equal(0.154604, measured[("ingest.kafka.broker.rtt.avg", "127.0.0.1:43571/1")]);
        Assert.Equal(0.012991, measured[("ingest.kafka.broker.rtt.p99", "127.0.0.1:43037/2")]);
        Assert.Equal(2, measured[("ingest.kafka.broker.waitresp.requests", "127.0.0.1:43571/1")]);
        Assert.Equal(0, measured[("ingest.kafka.broker.tx.retries", "127.0.0.1:43037/2")]);
        Assert.Equal(1_073_741_824, measured[("ingest.kafka.producer.queue.size.limit", null)]);

        statistics.Received("{\"brokers\": [1, 2"); // truncated: not a document
        Assert.Empty(collector.Collect());
    }

    /// <summary>Reads every observable instrument of one meter, by name and broker tag.</summary>
    private sealed class Collector : IDisposable
    {
        private readonly MeterListener _listener = new();
        private readonly Dictionary<(string Name, string? Broker), double> _values = [];

        public Collector(Meter meter)
        {
            _listener.InstrumentPublished = (instrument, listener) =>
            {
                if (instrument.Meter == meter && instrument.Name.StartsWith("ingest.kafka.", StringComparison.Ordinal))
                {
                    listener.EnableMeasurementEvents(instrument);
                }
            };
            _listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) => Add(instrument, value, tags));
            _listener.SetMeasurementEventCallback<double>((instrument, value, tags, _) => Add(instrument, value, tags));
            _listener.Start();
        }

        public Dictionary<(string Name, string? Broker), double> Collect()
        {
            _values.Clear();
            _listener.RecordObservableInstruments();
            return new(_values);
        }

        public void Dispose() => _listener.Dispose();

        private void Add(Instrument instrument, double value, ReadOnlySpan<KeyValuePair<string, object?>> tags)
        {
            string? broker = null;
            foreach (var tag in tags)
            {
                if (tag.Key == "broker")
                {
                    broker = (string?)tag.Value;
                }
            }

            _values[(instrument.Name, broker)] = value;
        }
    }
}
