using System.Diagnostics.Metrics;
using System.Text.Json;
using Ingest.Gateway.Diagnostics;

namespace Ingest.Gateway.Kafka;

/// <summary>One broker in librdkafka's statistics (its <c>brokers</c> object); times in seconds.</summary>
internal sealed record BrokerStatistics(
    string Name,
    int NodeId,
    string State,
    double RttAverageSeconds,
    double RttP99Seconds,
    long OutbufRequests,
    long OutbufMessages,
    long WaitrespRequests,
    long WaitrespMessages,
    long TxErrors,
    long RxErrors,
    long TxRetries,
    long RequestTimeouts);

/// <summary>
/// What the gateway reads from one librdkafka statistics document (librdkafka's STATISTICS.md):
/// the producer's queue and each broker it knows by id (bootstrap and internal entries, id -1,
/// are left out).
/// </summary>
internal sealed record KafkaStatisticsSnapshot(
    long QueueMessages,
    long QueueBytes,
    long QueueMessagesLimit,
    long QueueBytesLimit,
    IReadOnlyList<BrokerStatistics> Brokers)
{
    /// <summary>Parses a statistics document; throws <see cref="JsonException"/> when it is not one.</summary>
    public static KafkaStatisticsSnapshot Parse(string json)
    {
        using var document = JsonDocument.Parse(json);
        var root = document.RootElement;
        var brokers = new List<BrokerStatistics>();
        if (root.TryGetProperty("brokers", out var brokerObject) && brokerObject.ValueKind == JsonValueKind.Object)
        {
            foreach (var entry in brokerObject.EnumerateObject())
            {
                var broker = entry.Value;
                var nodeId = (int)Number(broker, "nodeid", -1);
                if (nodeId < 0)
                {
                    continue;
                }

                broker.TryGetProperty("rtt", out var rtt);
                brokers.Add(new BrokerStatistics(
                    broker.TryGetProperty("name", out var name) ? name.GetString() ?? entry.Name : entry.Name,
                    nodeId,
                    broker.TryGetProperty("state", out var state) ? state.GetString() ?? "" : "",
                    Microseconds(rtt, "avg"),
                    Microseconds(rtt, "p99"),
                    Number(broker, "outbuf_cnt"),
                    Number(broker, "outbuf_msg_cnt"),
                    Number(broker, "waitresp_cnt"),
                    Number(broker, "waitresp_msg_cnt"),
                    Number(broker, "txerrs"),
                    Number(broker, "rxerrs"),
                    Number(broker, "txretries"),
                    Number(broker, "req_timeouts")));
            }
        }

        brokers.Sort((a, b) => a.NodeId.CompareTo(b.NodeId));
        return new KafkaStatisticsSnapshot(
            Number(root, "msg_cnt"),
            Number(root, "msg_size"),
            Number(root, "msg_max"),
            Number(root, "msg_size_max"),
            brokers);
    }

    private static long Number(JsonElement element, string name, long missing = 0) =>
        element.ValueKind == JsonValueKind.Object && element.TryGetProperty(name, out var value) && value.TryGetInt64(out var number) ? number : missing;

    /// <summary>librdkafka's windowed latencies are in microseconds; 0 when the window saw no request.</summary>
    private static double Microseconds(JsonElement window, string name) => Number(window, name) / 1_000_000.0;
}

/// <summary>
/// librdkafka's statistics (<c>statistics.interval.ms</c>, <c>Ingest:Kafka:StatisticsIntervalMs</c>)
/// as instruments of the gateway's meter. The producer's callback only keeps the latest document;
/// it is parsed when a reader collects (a scrape of <c>/metrics</c>, an OTLP export), once per new
/// document, so the Kafka threads never parse JSON.
/// </summary>
internal sealed partial class KafkaStatistics
{
    private readonly Lock _lock = new();
    private readonly ILogger<KafkaStatistics> _logger;
    private string? _latest;
    private long _documents;
    private string? _parsedFrom;
    private KafkaStatisticsSnapshot? _parsed;

    public KafkaStatistics(IngestMetrics metrics, ILogger<KafkaStatistics> logger)
    {
        _logger = logger;
        var meter = metrics.Meter;
        meter.CreateObservableGauge("ingest.kafka.producer.queue.messages", () => Whole(s => s.QueueMessages), "{message}", "Messages in librdkafka's producer queues, waiting to be sent or acknowledged (msg_cnt)");
        meter.CreateObservableGauge("ingest.kafka.producer.queue.size", () => Whole(s => s.QueueBytes), "By", "Bytes of those messages (msg_size)");
        meter.CreateObservableGauge("ingest.kafka.producer.queue.messages.limit", () => Whole(s => s.QueueMessagesLimit), "{message}", "Most messages the producer queues hold (msg_max, queue.buffering.max.messages)");
        meter.CreateObservableGauge("ingest.kafka.producer.queue.size.limit", () => Whole(s => s.QueueBytesLimit), "By", "Most bytes the producer queues hold (msg_size_max, queue.buffering.max.kbytes)");
        meter.CreateObservableGauge("ingest.kafka.broker.rtt.avg", () => PerBroker(b => b.RttAverageSeconds), "s", "Average round trip of requests to the broker in the last statistics interval (rtt.avg)");
        meter.CreateObservableGauge("ingest.kafka.broker.rtt.p99", () => PerBroker(b => b.RttP99Seconds), "s", "99th percentile of the round trip to the broker in the last statistics interval (rtt.p99)");
        meter.CreateObservableGauge("ingest.kafka.broker.outbuf.requests", () => PerBroker(b => b.OutbufRequests), "{request}", "Requests waiting to be sent to the broker (outbuf_cnt)");
        meter.CreateObservableGauge("ingest.kafka.broker.outbuf.messages", () => PerBroker(b => b.OutbufMessages), "{message}", "Messages in those requests (outbuf_msg_cnt)");
        meter.CreateObservableGauge("ingest.kafka.broker.waitresp.requests", () => PerBroker(b => b.WaitrespRequests), "{request}", "Requests sent and waiting for the broker's response (waitresp_cnt)");
        meter.CreateObservableGauge("ingest.kafka.broker.waitresp.messages", () => PerBroker(b => b.WaitrespMessages), "{message}", "Messages in those requests (waitresp_msg_cnt)");
        meter.CreateObservableCounter("ingest.kafka.broker.tx.errors", () => PerBroker(b => b.TxErrors), "{error}", "Errors sending to the broker (txerrs)");
        meter.CreateObservableCounter("ingest.kafka.broker.rx.errors", () => PerBroker(b => b.RxErrors), "{error}", "Errors receiving from the broker (rxerrs)");
        meter.CreateObservableCounter("ingest.kafka.broker.tx.retries", () => PerBroker(b => b.TxRetries), "{request}", "Requests sent to the broker again (txretries)");
        meter.CreateObservableCounter("ingest.kafka.broker.request.timeouts", () => PerBroker(b => b.RequestTimeouts), "{request}", "Requests to the broker that timed out (req_timeouts)");
    }

    /// <summary>Documents received so far.</summary>
    public long Documents => Interlocked.Read(ref _documents);

    /// <summary>librdkafka's statistics callback (a Kafka thread): keeps the document, nothing more.</summary>
    public void Received(string json)
    {
        Volatile.Write(ref _latest, json);
        Interlocked.Increment(ref _documents);
    }

    /// <summary>The latest document, parsed once; null before the first one, or when it could not be read.</summary>
    public KafkaStatisticsSnapshot? Current()
    {
        var latest = Volatile.Read(ref _latest);
        lock (_lock)
        {
            if (latest is null || ReferenceEquals(latest, _parsedFrom))
            {
                return _parsed;
            }

            _parsedFrom = latest;
            try
            {
                _parsed = KafkaStatisticsSnapshot.Parse(latest);
            }
            catch (JsonException e)
            {
                Log.UnreadableStatistics(_logger, e.Message);
                _parsed = null;
            }

            return _parsed;
        }
    }

    /// <summary>One measurement of the producer as a whole; none without statistics (then no series is shown).</summary>
    private Measurement<long>[] Whole(Func<KafkaStatisticsSnapshot, long> value) =>
        Current() is { } current ? [new Measurement<long>(value(current))] : [];

    private Measurement<T>[] PerBroker<T>(Func<BrokerStatistics, T> value)
        where T : struct
    {
        var brokers = Current()?.Brokers ?? [];
        var measurements = new Measurement<T>[brokers.Count];
        for (var i = 0; i < measurements.Length; i++)
        {
            measurements[i] = new Measurement<T>(value(brokers[i]), new KeyValuePair<string, object?>("broker", brokers[i].Name));
        }

        return measurements;
    }

    private static partial class Log
    {
        [LoggerMessage(EventIds.KafkaStatisticsUnreadable, LogLevel.Warning, "librdkafka's statistics could not be read ({Reason}); the ingest.kafka.* instruments report nothing until the next document")]
        public static partial void UnreadableStatistics(ILogger logger, string reason);
    }
}
