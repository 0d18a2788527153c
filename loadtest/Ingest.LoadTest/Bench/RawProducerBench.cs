using System.Diagnostics;
using System.Text;
using System.Text.Json;
using Confluent.Kafka;
using Ingest.Kafka;
using Ingest.Kafka.Native;
using Ingest.LoadTest.Engine;

namespace Ingest.LoadTest.Bench;

/// <summary>
/// The ceiling: one Confluent.Kafka producer with the gateway's settings (idempotent, acks=all,
/// lz4, linger 5 ms, 1 MiB batches, 64 MiB queue) producing the gateway's events with the same keys,
/// counting deliveries in the delivery handler. It runs in its own process (the hidden
/// <c>raw-producer</c> command, started by <see cref="RawProducerProcess"/>), so that the CPU time it
/// reports is the producer's alone: not the embedded broker's nor the WebSocket clients', which live
/// in the harness process. One producer serves every command of the process, warm like the gateway's.
/// </summary>
internal sealed class RawProducerBench : IDisposable
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    private readonly IProducer<byte[], byte[]> _producer;
    private readonly ProducerConfig _config;
    private readonly byte[][] _keys;
    private readonly int _clients;
    private readonly DeliveryCounter _nativeDeliveries = new();
    private NativeProducer? _native;

    public RawProducerBench(string bootstrapServers, int clients)
    {
        var config = KafkaClientDefaults.IdempotentProducer(bootstrapServers);
        config.BatchSize = 1_048_576;
        config.QueueBufferingMaxKbytes = 65_536;
        config.DeliveryReportFields = "status";
        _config = config;
        // stdout carries the results; librdkafka's own lines go to stderr.
        _producer = new ProducerBuilder<byte[], byte[]>(config)
            .SetLogHandler((_, m) => Console.Error.WriteLine($"librdkafka {m.Level}: {m.Facility} {m.Message}"))
            .SetErrorHandler((_, e) => Console.Error.WriteLine($"librdkafka error: {e}"))
            .Build();
        _clients = clients;
        _keys = new byte[clients][];
        for (var c = 0; c < clients; c++)
        {
            _keys[c] = Encoding.UTF8.GetBytes(TestEvents.ClientId(c));
        }
    }

    /// <summary>
    /// The <c>raw-producer</c> command: one JSON command per line on <paramref name="input"/>, one JSON
    /// result per line on <paramref name="output"/>, until the input ends.
    /// </summary>
    public static async Task<int> ServeAsync(string bootstrapServers, int clients, TextReader input, TextWriter output, CancellationToken cancellationToken)
    {
        using var bench = new RawProducerBench(bootstrapServers, clients);
        while (await input.ReadLineAsync(cancellationToken).ConfigureAwait(false) is { } line)
        {
            var command = JsonSerializer.Deserialize<RawProducerCommand>(line, Json)
                ?? throw new InvalidOperationException($"Not a command: {line}");
            var result = command.Kind switch
            {
                RawProducerCommand.Run when command.Client == RawProducerCommand.Native => JsonSerializer.Serialize(bench.RunNative(command.Topic, command.Events, command.Shape), Json),
                RawProducerCommand.Run => JsonSerializer.Serialize(bench.Run(command.Topic, command.Events, command.Shape), Json),
                RawProducerCommand.Paced => JsonSerializer.Serialize(bench.Paced(command.Topic, command.Rate, command.Seconds, command.Shape), Json),
                _ => throw new InvalidOperationException($"Unknown command '{command.Kind}'."),
            };
            await output.WriteLineAsync(result).ConfigureAwait(false);
            await output.FlushAsync(cancellationToken).ConfigureAwait(false);
        }

        return 0;
    }

    /// <summary>
    /// Produces <paramref name="events"/> events as fast as librdkafka takes them and waits for every
    /// delivery report. Elapsed and CPU time (this process's, from <c>/proc/self/stat</c>) cover the
    /// producing and the flush; the events are built before.
    /// </summary>
    public RawRunResult Run(string topic, int events, string shapeName)
    {
        var shape = RecordShape.Create(shapeName, _clients);
        var values = Values(events);
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

        Action<DeliveryReport<byte[], byte[]>> handler = OnDelivery;
        // One Message reused, as the gateway does: Produce copies key, value and headers.
        var message = new Message<byte[], byte[]>();
        var cpu0 = ProcessProbe.CpuTime(Environment.ProcessId);
        var started = Stopwatch.GetTimestamp();
        for (var i = 0; i < events; i++)
        {
            var client = i % _clients;
            message.Key = _keys[client];
            message.Value = values[i];
            message.Headers = shape.HeadersFor(client);
            Produce(topic, message, handler);
        }

        _producer.Flush(TimeSpan.FromMinutes(2));
        var elapsed = Stopwatch.GetElapsedTime(started);
        var cpu = ProcessProbe.CpuTime(Environment.ProcessId) - cpu0;
        return new RawRunResult(shape.Name, events, Interlocked.Read(ref delivered), Interlocked.Read(ref failed), elapsed.TotalSeconds, cpu.TotalSeconds);
    }

    /// <summary>
    /// As <see cref="Run"/>, through the project's own librdkafka producer (<see cref="NativeProducer"/>,
    /// one <c>rd_kafka_produceva</c> per record and no managed object per record) instead of
    /// Confluent.Kafka's <c>Produce</c>; the same settings, records and measurement. As in the
    /// gateway, the producing thread serves the delivery reports itself (every 1,024 records), so
    /// that librdkafka frees each record on the thread that made it.
    /// </summary>
    public RawRunResult RunNative(string topic, int events, string shapeName)
    {
        var shape = RecordShape.Create(shapeName, _clients);
        var values = Values(events);
        _native ??= new NativeProducer(_config, _nativeDeliveries, pollThread: false);
        var delivered0 = _nativeDeliveries.Delivered;
        var failed0 = _nativeDeliveries.Failed;
        var cpu0 = ProcessProbe.CpuTime(Environment.ProcessId);
        var started = Stopwatch.GetTimestamp();
        for (var i = 0; i < events; i++)
        {
            var client = i % _clients;
            var headers = shape.HeadersFor(client);
            while (_native.Produce(topic, _keys[client], values[i], headers, 0) == ErrorCode.Local_QueueFull)
            {
                _native.Poll(TimeSpan.FromMilliseconds(10));
            }

            if ((i & 1023) == 1023)
            {
                _native.Poll(TimeSpan.Zero);
            }
        }

        _native.Flush(TimeSpan.FromMinutes(2));
        var elapsed = Stopwatch.GetElapsedTime(started);
        var cpu = ProcessProbe.CpuTime(Environment.ProcessId) - cpu0;
        return new RawRunResult(shape.Name + "-native", events, _nativeDeliveries.Delivered - delivered0, _nativeDeliveries.Failed - failed0, elapsed.TotalSeconds, cpu.TotalSeconds);
    }

    /// <summary>
    /// Produces <paramref name="rate"/> events a second for <paramref name="seconds"/> on a fixed
    /// schedule: event i is due at start + i / rate, and its latency runs from that due time to its
    /// delivery report, so that a producer falling behind shows in the latency instead of being
    /// hidden by a later send (coordinated omission). This thread sleeps to the next due time (about
    /// 1 ms on Linux), then produces every event due; how late each one went out is the schedule lag.
    /// </summary>
    public RawPacedResult Paced(string topic, int rate, int seconds, string shapeName)
    {
        var shape = RecordShape.Create(shapeName, _clients);
        var events = (int)Math.Min(int.MaxValue, (long)rate * seconds);
        var values = Values(events);
        var latency = new LatencyHistogram();
        var lag = new LatencyHistogram();
        long delivered = 0, failed = 0;
        var message = new Message<byte[], byte[]>();
        var ticksPerEvent = (double)Stopwatch.Frequency / rate;
        var cpu0 = ProcessProbe.CpuTime(Environment.ProcessId);
        var start = Stopwatch.GetTimestamp();
        var i = 0;
        while (i < events)
        {
            var now = Stopwatch.GetTimestamp();
            for (var due = start + (long)(i * ticksPerEvent); i < events && due <= now; i++, due = start + (long)(i * ticksPerEvent))
            {
                lag.RecordSince(due, now);
                var scheduled = due;
                var client = i % _clients;
                message.Key = _keys[client];
                message.Value = values[i];
                message.Headers = shape.HeadersFor(client);
                Produce(topic, message, report =>
                {
                    latency.RecordSince(scheduled, Stopwatch.GetTimestamp());
                    if (report.Error.IsError)
                    {
                        Interlocked.Increment(ref failed);
                    }
                    else
                    {
                        Interlocked.Increment(ref delivered);
                    }
                });
            }

            if (i < events)
            {
                var wait = Stopwatch.GetElapsedTime(Stopwatch.GetTimestamp(), start + (long)(i * ticksPerEvent));
                Thread.Sleep(wait > TimeSpan.FromMilliseconds(1) ? wait : TimeSpan.FromMilliseconds(1));
            }
        }

        _producer.Flush(TimeSpan.FromMinutes(2));
        var elapsed = Stopwatch.GetElapsedTime(start);
        var cpu = ProcessProbe.CpuTime(Environment.ProcessId) - cpu0;
        return new RawPacedResult(shape.Name, rate, events, Interlocked.Read(ref delivered), Interlocked.Read(ref failed), elapsed.TotalSeconds, cpu.TotalSeconds, latency.Summarize(), lag.Summarize());
    }

    public void Dispose()
    {
        _producer.Dispose();
        _native?.Dispose();
    }

    /// <summary>
    /// The events of one run: client i % clients sends its (i / clients)-th event, as <c>TestEvents</c>
    /// numbers them. Built before the measured part, then collected into the oldest generation, so
    /// that the first collection inside the measured part does not copy them (the gateway's events
    /// die young; these would be promoted mid-run and charged to the producer).
    /// </summary>
    private byte[][] Values(int events)
    {
        var runId = $"raw{Guid.NewGuid():N}"[..11];
        var timestamp = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        var values = new byte[events][];
        for (var i = 0; i < events; i++)
        {
            values[i] = TestEvents.Message(runId, i % _clients, i / _clients, 1, timestamp, asArray: false);
        }

        GC.Collect(GC.MaxGeneration, GCCollectionMode.Forced, blocking: true, compacting: true);
        return values;
    }

    private void Produce(string topic, Message<byte[], byte[]> message, Action<DeliveryReport<byte[], byte[]>> handler)
    {
        while (true)
        {
            try
            {
                _producer.Produce(topic, message, handler);
                return;
            }
            catch (ProduceException<byte[], byte[]> e) when (e.Error.Code == ErrorCode.Local_QueueFull)
            {
                _producer.Poll(TimeSpan.FromMilliseconds(10));
            }
        }
    }
}

/// <summary>A command to the <c>raw-producer</c> process, one JSON line.</summary>
internal sealed record RawProducerCommand(string Kind, string Topic, string Shape, int Events = 0, int Rate = 0, int Seconds = 0, string Client = RawProducerCommand.Confluent)
{
    /// <summary>Through Confluent.Kafka's <c>Produce</c> (the default).</summary>
    public const string Confluent = "confluent";

    /// <summary>Through the project's own <see cref="NativeProducer"/>.</summary>
    public const string Native = "native";

    /// <summary>As fast as possible: <see cref="Events"/> events.</summary>
    public const string Run = "run";

    /// <summary>At <see cref="Rate"/> events/s for <see cref="Seconds"/> seconds.</summary>
    public const string Paced = "paced";
}

/// <summary>Counts the native producer's delivery reports (served by the producing thread's polls and flush).</summary>
internal sealed class DeliveryCounter : INativeProducerEvents
{
    private long _delivered;
    private long _failed;

    public long Delivered => Interlocked.Read(ref _delivered);

    public long Failed => Interlocked.Read(ref _failed);

    public void OnDelivery(nint opaque, ErrorCode error)
    {
        if (error == ErrorCode.NoError)
        {
            Interlocked.Increment(ref _delivered);
        }
        else
        {
            Interlocked.Increment(ref _failed);
        }
    }

    public void OnError(Error error) => Console.Error.WriteLine($"librdkafka error: {error}");

    public void OnLog(int level, string facility, string message) => Console.Error.WriteLine($"librdkafka {level}: {facility} {message}");

    public void OnStatistics(string json)
    {
    }
}

/// <summary>One run of the raw producer, measured in its own process.</summary>
internal sealed record RawRunResult(string Shape, long Produced, long Delivered, long Failed, double Seconds, double CpuSeconds)
{
    public double EventsPerSecond => Seconds == 0 ? 0 : Delivered / Seconds;

    public double CpuMicrosecondsPerEvent => Delivered == 0 ? 0 : CpuSeconds * 1e6 / Delivered;
}

/// <summary>The raw producer paced at a fixed rate: delivery latency from each event's scheduled time.</summary>
internal sealed record RawPacedResult(
    string Shape, int Rate, long Produced, long Delivered, long Failed, double Seconds, double CpuSeconds, LatencySummary Latency, LatencySummary ScheduleLag)
{
    public double CpuMicrosecondsPerEvent => Delivered == 0 ? 0 : CpuSeconds * 1e6 / Delivered;
}
