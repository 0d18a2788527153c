using Confluent.Kafka;
using Ingest.Gateway.Diagnostics;
using Ingest.Gateway.Configuration;
using Ingest.Gateway.Kafka;
using Microsoft.Extensions.Options;

namespace Ingest.Gateway.Streaming;

/// <summary>
/// The gateway's one consumer of the events topic, feeding <see cref="StreamHub"/>. It runs on its
/// own thread (Consume blocks), and only while someone subscribes: it then takes every partition
/// at its current end (explicit offsets from the high watermarks, so "ready" means live) with
/// <c>Assign</c>, not a group subscription, so no rebalance ever delays it and nothing is
/// committed. With no subscribers it lets go of the partitions and sleeps.
/// </summary>
internal sealed partial class StreamConsumer(
    StreamHub hub,
    KafkaClientConfigs configs,
    IOptions<IngestOptions> options,
    ILogger<StreamConsumer> logger) : BackgroundService
{
    /// <summary>Bound for each metadata and watermark request while positioning; a subscriber waits at most this long for "ready" when Kafka is down.</summary>
    internal static readonly TimeSpan PositionTimeout = TimeSpan.FromSeconds(3);

    /// <summary>Pause between attempts to position while Kafka is unreachable.</summary>
    private static readonly TimeSpan RetryDelay = TimeSpan.FromSeconds(1);

    /// <summary>Longest Consume call: how soon the loop notices shutdown or that the last subscriber left.</summary>
    private static readonly TimeSpan PollTimeout = TimeSpan.FromMilliseconds(100);

    private readonly string _topic = options.Value.Kafka.Topic;

    protected override Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (!options.Value.Stream.Enabled)
        {
            return Task.CompletedTask;
        }

        // A dedicated thread: Consume and the metadata requests block, and must not hold thread-pool threads that Kestrel needs.
        return Task.Factory.StartNew(() => Run(stoppingToken), CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
    }

    private void Run(CancellationToken stopping)
    {
        IConsumer<byte[], byte[]>? consumer = null;
        IAdminClient? admin = null;
        var positioned = false;
        var unreachable = false;
        ErrorCode? lastConsumeError = null;
        try
        {
            while (hub.WaitForSubscribers(stopping))
            {
                if (consumer is null)
                {
                    consumer = new ConsumerBuilder<byte[], byte[]>(configs.StreamConsumer())
                        .SetErrorHandler((_, error) => Log.ConsumeError(logger, LogLevel.Debug, error.Code, error.Reason))
                        .SetLogHandler((_, message) => Log.Librdkafka(logger, message.Facility, message.Message))
                        .Build();
                    admin = new DependentAdminClientBuilder(consumer.Handle).Build();
                    Log.ConsumerStarted(logger, _topic);
                }

                if (!positioned)
                {
                    var failure = TryPosition(consumer, admin!, out var partitions);
                    if (failure is not null)
                    {
                        hub.SetLive(false);
                        if (!unreachable)
                        {
                            unreachable = true;
                            Log.KafkaUnreachable(logger, _topic, failure);
                        }

                        if (stopping.WaitHandle.WaitOne(RetryDelay))
                        {
                            break;
                        }

                        hub.TryGoIdle();
                        continue;
                    }

                    positioned = true;
                    unreachable = false;
                    hub.SetLive(true);
                    Log.Positioned(logger, _topic, partitions);
                }

                try
                {
                    if (consumer.Consume(PollTimeout) is { } result)
                    {
                        hub.Publish(result);
                        lastConsumeError = null;
                    }
                }
                catch (ConsumeException e)
                {
                    // Logged once per kind of error in a row, not per poll.
                    if (lastConsumeError != e.Error.Code)
                    {
                        lastConsumeError = e.Error.Code;
                        Log.ConsumeError(logger, LogLevel.Warning, e.Error.Code, e.Error.Reason);
                    }
                }

                if (hub.TryGoIdle())
                {
                    consumer.Unassign();
                    positioned = false;
                }
            }
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // Not rethrown, which would stop the host: the stream is a view of the topic, and
            // ingestion goes on without it.
            Log.ConsumerFailed(logger, e);
        }
        finally
        {
            admin?.Dispose();
            if (consumer is not null)
            {
                consumer.Close();
                consumer.Dispose();
                Log.ConsumerStopped(logger);
            }
        }
    }

    /// <summary>Assigns every partition at its high watermark; null on success, else why not.</summary>
    private string? TryPosition(IConsumer<byte[], byte[]> consumer, IAdminClient admin, out int partitions)
    {
        partitions = 0;
        try
        {
            var metadata = admin.GetMetadata(_topic, PositionTimeout).Topics.SingleOrDefault(t => t.Topic == _topic);
            if (metadata is null || metadata.Error.IsError || metadata.Partitions.Count == 0)
            {
                return $"no partitions for topic {_topic}: {metadata?.Error.Reason ?? "not in the metadata"}";
            }

            var offsets = metadata.Partitions
                .Select(p => new TopicPartition(_topic, p.PartitionId))
                .Select(tp => new TopicPartitionOffset(tp, consumer.QueryWatermarkOffsets(tp, PositionTimeout).High))
                .ToList();
            consumer.Assign(offsets);
            partitions = offsets.Count;
            return null;
        }
        catch (KafkaException e)
        {
            return e.Error.Reason;
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventIds.StreamConsumerStarted, LogLevel.Information, "Stream consumer of {Topic} started for the first /stream subscriber")]
        public static partial void ConsumerStarted(ILogger logger, string topic);

        [LoggerMessage(EventIds.StreamConsumerStopped, LogLevel.Information, "Stream consumer stopped")]
        public static partial void ConsumerStopped(ILogger logger);

        [LoggerMessage(EventIds.StreamPositioned, LogLevel.Debug, "Stream consumer live at the end of {Partitions} partitions of {Topic}")]
        public static partial void Positioned(ILogger logger, string topic, int partitions);

        [LoggerMessage(EventIds.StreamKafkaUnreachable, LogLevel.Warning, "Stream consumer cannot reach {Topic} ({Reason}); /stream subscribers get events once it can")]
        public static partial void KafkaUnreachable(ILogger logger, string topic, string reason);

        [LoggerMessage(EventId = EventIds.StreamConsumeError, Message = "Stream consumer error {Code}: {Reason}")]
        public static partial void ConsumeError(ILogger logger, LogLevel level, ErrorCode code, string reason);

        [LoggerMessage(EventIds.StreamConsumerFailed, LogLevel.Error, "Stream consumer failed; /stream delivers nothing more until restart")]
        public static partial void ConsumerFailed(ILogger logger, Exception exception);

        [LoggerMessage(EventIds.StreamLibrdkafkaLog, LogLevel.Debug, "librdkafka (stream) {Facility}: {Message}")]
        public static partial void Librdkafka(ILogger logger, string facility, string message);
    }
}
