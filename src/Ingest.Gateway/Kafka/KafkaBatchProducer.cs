using Confluent.Kafka;
using Ingest.Gateway.Diagnostics;
using Ingest.Gateway.Hosting;
using Ingest.Gateway.Pipeline;
using Microsoft.Extensions.Options;

namespace Ingest.Gateway.Kafka;

/// <summary>
/// The one Kafka producer of the gateway: drains <see cref="EventChannel"/> in batches into
/// Confluent.Kafka. Delivery reports go back to each message's connection, which turns them into
/// cumulative acks. Idempotence and <c>acks=all</c> are forced here, whatever the configuration says.
/// </summary>
internal sealed partial class KafkaBatchProducer : BackgroundService
{
    /// <summary>Records taken from the channel before looking at it again; bounds one pass of the loop.</summary>
    private const int MaxBatch = 1024;

    /// <summary>A pass that took fewer messages than this waits <see cref="CoalesceDelay"/> before the next.</summary>
    private const int CoalesceBelow = 32;

    /// <summary>Well under <c>linger.ms</c> (5 by default), so it adds next to nothing to latency.</summary>
    private static readonly TimeSpan CoalesceDelay = TimeSpan.FromMilliseconds(1);

    /// <summary>Producer properties the wire contract fixes; <c>request.required.acks</c> is librdkafka's name for <c>acks</c>.</summary>
    internal static readonly string[] GuaranteedProperties = ["enable.idempotence", "acks", "request.required.acks"];

    private readonly EventChannel _channel;
    private readonly KafkaHealth _health;
    private readonly IHostApplicationLifetime _lifetime;
    private readonly ILogger<KafkaBatchProducer> _logger;
    private readonly IProducer<byte[], byte[]> _producer;
    private readonly TimeSpan _flushTimeout;
    private readonly bool _coalesce;

    public KafkaBatchProducer(
        EventChannel channel,
        KafkaEndpoint endpoint,
        KafkaHealth health,
        IOptions<IngestOptions> options,
        IHostApplicationLifetime lifetime,
        ILogger<KafkaBatchProducer> logger)
    {
        _channel = channel;
        _health = health;
        _lifetime = lifetime;
        _logger = logger;
        _flushTimeout = TimeSpan.FromMilliseconds(options.Value.Shutdown.TimeoutMs);
        _coalesce = options.Value.Kafka.LingerMs > 0; // linger.ms=0 asks for every message at once
        var config = CreateConfig(options.Value, endpoint.BootstrapServers);
        _producer = new ProducerBuilder<byte[], byte[]>(config)
            .SetErrorHandler(OnError)
            .SetLogHandler(OnLog)
            .Build();
    }

    /// <summary>The producer settings: configuration first, then what the guarantees require.</summary>
    internal static ProducerConfig CreateConfig(IngestOptions options, string bootstrapServers)
    {
        var kafka = options.Kafka;
        // The guaranteed properties are left out and forced below: librdkafka applies properties in
        // order, so request.required.acks copied from configuration would override the forced acks.
        var config = new ProducerConfig(kafka.Producer
            .Where(property => !GuaranteedProperties.Contains(property.Key))
            .ToDictionary(property => property.Key, property => property.Value))
        {
            BootstrapServers = bootstrapServers,
            ClientId = "ingest-gateway",
            LingerMs = kafka.LingerMs,
            BatchSize = kafka.BatchSizeBytes,
            CompressionType = Enum.Parse<CompressionType>(kafka.Compression, ignoreCase: true),
            MessageTimeoutMs = kafka.DeliveryTimeoutMs,
            QueueBufferingMaxKbytes = kafka.QueueBufferingMaxKbytes,
            // A message of exactly MaxMessageBytes must fit, with its key and headers.
            MessageMaxBytes = Math.Max(1_000_000, options.WebSocket.MaxMessageBytes + 64 * 1024),
            SocketNagleDisable = true,
            // Delivery reports carry only the outcome: the gateway needs no copies of keys or values.
            DeliveryReportFields = "status",
        };

        // The guarantees of the wire contract; configuration cannot weaken them.
        config.EnableIdempotence = true;
        config.Acks = Acks.All;
        return config;
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        Log.ProducerStarted(_logger, _producer.Name);
        var reader = _channel.Reader;
        var message = new Message<byte[], byte[]>();

        // Not cancelled by stoppingToken: on shutdown the channel is completed and drained instead,
        // so that everything the connections read reaches Kafka.
        while (await reader.WaitToReadAsync(CancellationToken.None))
        {
            var taken = 0;
            while (taken < MaxBatch && reader.TryRead(out var item))
            {
                Produce(item, message);
                taken++;
            }

            if (taken < CoalesceBelow && _coalesce)
            {
                // A small batch: let the next one build up for a moment (librdkafka lingers longer
                // anyway) instead of being woken for every message, a thread-pool hop each.
                await Task.Delay(CoalesceDelay, CancellationToken.None);
            }
        }

        var remaining = _producer.Flush(_flushTimeout);
        if (remaining > 0)
        {
            Log.FlushIncomplete(_logger, remaining, _flushTimeout.TotalMilliseconds);
        }

        Log.ProducerStopped(_logger);
    }

    private void Produce(IngestMessage item, Message<byte[], byte[]> message)
    {
        // One Message object is reused: Produce copies key, value and headers into librdkafka.
        message.Headers = item.Headers;
        foreach (var record in item.Records)
        {
            message.Key = record.Key!;
            message.Value = record.Value;
            while (true)
            {
                try
                {
                    _producer.Produce(item.Topic, message, item.DeliveryHandler);
                    break;
                }
                catch (ProduceException<byte[], byte[]> e) when (e.Error.Code == ErrorCode.Local_QueueFull)
                {
                    // librdkafka's queue is full: serve delivery reports until there is room. The
                    // channel fills meanwhile, and the connections stop reading their sockets.
                    _producer.Poll(TimeSpan.FromMilliseconds(50));
                }
                catch (ProduceException<byte[], byte[]> e)
                {
                    item.Complete(e.Error);
                    break;
                }
            }
        }
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        // By now the server has stopped and the connections have drained: close the channel, let
        // the loop produce what is left and flush, then stop.
        _channel.Complete();
        if (ExecuteTask is { } running)
        {
            await running.WaitAsync(cancellationToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }

        await base.StopAsync(cancellationToken);
    }

    public override void Dispose()
    {
        _producer.Dispose();
        base.Dispose();
    }

    private void OnError(IProducer<byte[], byte[]> producer, Error error)
    {
        if (error.IsFatal)
        {
            Log.ProducerFatalError(_logger, error.Code, error.Reason);
            Environment.ExitCode = 1;
            _lifetime.StopApplication();
            return;
        }

        if (error.Code == ErrorCode.Local_AllBrokersDown)
        {
            _health.Set($"all brokers are down: {error.Reason}");
        }

        Log.ProducerError(_logger, error.Code, error.Reason);
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
        Log.Librdkafka(_logger, level, message.Facility, message.Message);
    }

    private static partial class Log
    {
        [LoggerMessage(EventIds.ProducerStarted, LogLevel.Information, "Kafka producer {ProducerName} started (idempotent, acks=all)")]
        public static partial void ProducerStarted(ILogger logger, string producerName);

        [LoggerMessage(EventIds.ProducerStopped, LogLevel.Information, "Kafka producer drained and stopped")]
        public static partial void ProducerStopped(ILogger logger);

        [LoggerMessage(EventIds.ProducerError, LogLevel.Warning, "Kafka producer error {Code}: {Reason}")]
        public static partial void ProducerError(ILogger logger, ErrorCode code, string reason);

        [LoggerMessage(EventIds.ProducerFatalError, LogLevel.Critical, "Fatal Kafka producer error {Code}: {Reason}; stopping the gateway")]
        public static partial void ProducerFatalError(ILogger logger, ErrorCode code, string reason);

        [LoggerMessage(EventIds.FlushIncomplete, LogLevel.Error, "{Remaining} records were still unacknowledged by Kafka after the {TimeoutMs} ms flush")]
        public static partial void FlushIncomplete(ILogger logger, int remaining, double timeoutMs);

        [LoggerMessage(EventId = EventIds.LibrdkafkaLog, Message = "librdkafka {Facility}: {Message}")]
        public static partial void Librdkafka(ILogger logger, LogLevel level, string facility, string message);
    }
}
