using Confluent.Kafka;
using Ingest.Gateway.Configuration;
using Ingest.Gateway.Diagnostics;
using Ingest.Gateway.Lifecycle;
using Ingest.Gateway.Pipeline;
using Microsoft.Extensions.Options;

namespace Ingest.Gateway.Kafka;

/// <summary>
/// The one Kafka producer of the gateway: drains <see cref="EventChannel"/> in batches into
/// Confluent.Kafka on its own thread, and turns delivery reports into each item's outcome (and the
/// delivery and dead-letter counts). Idempotence and <c>acks=all</c> are forced by
/// <see cref="KafkaClientConfigs"/>, whatever the configuration says.
/// </summary>
/// <remarks>
/// The thread owns the librdkafka handle: it produces, polls when librdkafka's queue is full,
/// flushes at shutdown within the <see cref="ShutdownBudget"/>, and disposes the handle itself, so
/// that no other thread can destroy it while it is in use.
/// </remarks>
internal sealed partial class KafkaBatchProducer(
    EventChannel channel,
    KafkaClientConfigs configs,
    RecordFactory records,
    KafkaHealth health,
    IngestMetrics metrics,
    KafkaStatistics statistics,
    TimeProvider time,
    ShutdownBudget shutdown,
    IOptions<IngestOptions> options,
    IHostApplicationLifetime lifetime,
    ILogger<KafkaBatchProducer> logger) : IHostedService
{
    /// <summary>Records taken from the channel before looking at it again; bounds one pass of the loop.</summary>
    private const int MaxBatch = 1024;

    /// <summary>A pass that took fewer messages than this waits <see cref="CoalesceDelay"/> before the next.</summary>
    private const int CoalesceBelow = 32;

    /// <summary>Well under <c>linger.ms</c> (5 by default), so it adds next to nothing to latency.</summary>
    private static readonly TimeSpan CoalesceDelay = TimeSpan.FromMilliseconds(1);

    /// <summary>How long one poll waits for room while librdkafka's queue is full.</summary>
    private static readonly TimeSpan QueueFullPoll = TimeSpan.FromMilliseconds(50);

    private readonly TaskCompletionSource _stopped = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly bool _coalesce = options.Value.Kafka.LingerMs > 0; // linger.ms=0 asks for every message at once
    private IProducer<byte[], byte[]>? _producer;
    private long _inFlight; // records produced and not yet reported
    private long _abandoned; // events failed because the shutdown budget ran out before librdkafka had room
    private readonly FailureLog _deadLetterFailures = new(time);

    public Task StartAsync(CancellationToken cancellationToken)
    {
        _producer = new ProducerBuilder<byte[], byte[]>(configs.Producer())
            .SetErrorHandler(OnError)
            .SetLogHandler(OnLog)
            .SetStatisticsHandler((_, json) => statistics.Received(json))
            .Build();
        new Thread(Run) { IsBackground = true, Name = "kafka-producer" }.Start();
        Log.ProducerStarted(logger, _producer.Name);
        return Task.CompletedTask;
    }

    /// <summary>
    /// By now the connections have drained: close the channel and let the thread produce what is
    /// left, flush and dispose, within the shutdown budget.
    /// </summary>
    public async Task StopAsync(CancellationToken cancellationToken)
    {
        shutdown.Begin();
        channel.Complete();
        await _stopped.Task.WaitAsync(cancellationToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
    }

    private void Run()
    {
        var producer = _producer!;
        try
        {
            var reader = channel.Reader;
            var message = new Message<byte[], byte[]>();
            while (WaitToRead(reader))
            {
                var taken = 0;
                var records = 0L;
                BatchTrace? batch = null;
                while (taken < MaxBatch && reader.TryRead(out var item))
                {
                    item.TakenAt = time.GetTimestamp();
                    if (taken == 0)
                    {
                        batch = BatchTrace.TryStart();
                    }

                    batch?.Add(item);
                    Produce(producer, item, message);
                    records += item.RecordCount;
                    taken++;
                }

                batch?.Seal(taken, records);
                if (taken > 0)
                {
                    metrics.BatchProduced(records);
                }

                if (taken < CoalesceBelow && _coalesce)
                {
                    // A small batch: let the next one build up for a moment (librdkafka lingers longer
                    // anyway) instead of waking for every message.
                    Thread.Sleep(CoalesceDelay);
                }
            }

            producer.Flush(shutdown.Remaining);
            var undelivered = Interlocked.Read(ref _inFlight) + Interlocked.Read(ref _abandoned);
            if (undelivered > 0)
            {
                Log.EventsNotDelivered(logger, undelivered, shutdown.Total.TotalMilliseconds);
                Environment.ExitCode = 1;
            }

            Log.ProducerStopped(logger);
        }
        catch (Exception e)
        {
            Log.ProducerCrashed(logger, e);
            Environment.ExitCode = 1;
            lifetime.StopApplication();
        }
        finally
        {
            producer.Dispose();
            _stopped.TrySetResult();
        }
    }

    /// <summary>Blocks this thread until an item is there (true) or the channel is completed and empty (false).</summary>
    private static bool WaitToRead(System.Threading.Channels.ChannelReader<PipelineItem> reader)
    {
        var wait = reader.WaitToReadAsync(CancellationToken.None);
        return wait.IsCompletedSuccessfully ? wait.Result : wait.AsTask().GetAwaiter().GetResult();
    }

    private void Produce(IProducer<byte[], byte[]> producer, PipelineItem item, Message<byte[], byte[]> message)
    {
        // One Message object is reused: Produce copies key, value and headers into librdkafka.
        var topic = records.TopicOf(item);
        message.Headers = records.HeadersOf(item);
        void OnReport(DeliveryReport<byte[], byte[]> report) => Delivered(item, report.Error);
        Action<DeliveryReport<byte[], byte[]>> handler = OnReport;
        if (item.Kind == PipelineItemKind.DeadLetter)
        {
            message.Key = null!;
            message.Value = item.Payload;
            ProduceOne(producer, item, topic, message, handler);
            return;
        }

        foreach (var record in item.Events)
        {
            message.Key = record.Key;
            message.Value = record.Value;
            ProduceOne(producer, item, topic, message, handler);
        }
    }

    private void ProduceOne(IProducer<byte[], byte[]> producer, PipelineItem item, string topic, Message<byte[], byte[]> message, Action<DeliveryReport<byte[], byte[]>> handler)
    {
        while (true)
        {
            try
            {
                Interlocked.Increment(ref _inFlight);
                producer.Produce(topic, message, handler);
                return;
            }
            catch (ProduceException<byte[], byte[]> e) when (e.Error.Code == ErrorCode.Local_QueueFull && !shutdown.Final.IsCancellationRequested)
            {
                // librdkafka's queue is full: serve delivery reports until there is room. The channel
                // fills meanwhile, and the connections stop reading their sockets.
                Interlocked.Decrement(ref _inFlight);
                producer.Poll(QueueFullPoll);
            }
            catch (ProduceException<byte[], byte[]> e)
            {
                // Kept in flight until Delivered counts it out: a failure is an outcome too.
                if (e.Error.Code == ErrorCode.Local_QueueFull && item.Kind == PipelineItemKind.Events)
                {
                    Interlocked.Increment(ref _abandoned);
                }

                Delivered(item, e.Error);
                return;
            }
        }
    }

    private void Delivered(PipelineItem item, Error error)
    {
        Interlocked.Decrement(ref _inFlight);
        if (item.Kind == PipelineItemKind.DeadLetter)
        {
            metrics.DeadLetterWritten(failed: error.IsError);
            if (error.IsError && _deadLetterFailures.Take() is { } failed)
            {
                Log.DeadLettersFailing(logger, failed, error.Code, error.Reason);
            }
        }
        else if (error.IsError)
        {
            metrics.DeliveryFailed();
        }
        else
        {
            metrics.EventsDelivered(1);
        }

        (item.Batch as BatchTrace)?.Resolved(error.IsError);
        if (item.Complete(error.IsError ? $"{error.Code}: {error.Reason}" : null))
        {
            metrics.MessageProduced(time.GetElapsedTime(item.TakenAt));
        }
    }

    private void OnError(IProducer<byte[], byte[]> producer, Error error)
    {
        if (error.IsFatal)
        {
            Log.ProducerFatalError(logger, error.Code, error.Reason);
            Environment.ExitCode = 1;
            lifetime.StopApplication();
            return;
        }

        if (error.Code == ErrorCode.Local_AllBrokersDown)
        {
            health.Set($"all brokers are down: {error.Reason}");
        }

        Log.ProducerError(logger, error.Code, error.Reason);
    }

    private void OnLog(IProducer<byte[], byte[]> producer, LogMessage message)
    {
        var level = message.Level switch
        {
            SyslogLevel.Emergency or SyslogLevel.Alert or SyslogLevel.Critical or SyslogLevel.Error => LogLevel.Error,
            SyslogLevel.Warning => LogLevel.Warning,
            SyslogLevel.Notice or SyslogLevel.Info => LogLevel.Information,
            _ => LogLevel.Debug,
        };
        Log.Librdkafka(logger, level, message.Facility, message.Message);
    }

    private static partial class Log
    {
        [LoggerMessage(EventIds.DeadLettersFailing, LogLevel.Warning, "{Count} dead-letter records were not written (the last: {Code}: {Reason}); their messages had been answered with an error frame and acked, and are counted in ingest.dead_letters{{outcome=failed}}")]
        public static partial void DeadLettersFailing(ILogger logger, long count, ErrorCode code, string reason);

        [LoggerMessage(EventIds.ProducerStarted, LogLevel.Information, "Kafka producer {ProducerName} started (idempotent, acks=all)")]
        public static partial void ProducerStarted(ILogger logger, string producerName);

        [LoggerMessage(EventIds.ProducerStopped, LogLevel.Information, "Kafka producer drained and stopped")]
        public static partial void ProducerStopped(ILogger logger);

        [LoggerMessage(EventIds.ProducerError, LogLevel.Warning, "Kafka producer error {Code}: {Reason}")]
        public static partial void ProducerError(ILogger logger, ErrorCode code, string reason);

        [LoggerMessage(EventIds.ProducerFatalError, LogLevel.Critical, "Fatal Kafka producer error {Code}: {Reason}; stopping the gateway")]
        public static partial void ProducerFatalError(ILogger logger, ErrorCode code, string reason);

        [LoggerMessage(EventIds.ProducerCrashed, LogLevel.Critical, "The Kafka producer thread failed; stopping the gateway")]
        public static partial void ProducerCrashed(ILogger logger, Exception exception);

        [LoggerMessage(EventIds.FlushIncomplete, LogLevel.Error, "{Count} events read from clients were not delivered to Kafka within the {BudgetMs} ms shutdown budget; their clients were not acked and must send them again")]
        public static partial void EventsNotDelivered(ILogger logger, long count, double budgetMs);

        [LoggerMessage(EventId = EventIds.LibrdkafkaLog, Message = "librdkafka {Facility}: {Message}")]
        public static partial void Librdkafka(ILogger logger, LogLevel level, string facility, string message);
    }
}
