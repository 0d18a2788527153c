using Confluent.Kafka;
using Ingest.Gateway.Diagnostics;
using Ingest.Gateway.Hosting;
using Microsoft.Extensions.Options;

namespace Ingest.Gateway.Kafka;

/// <summary>Whether Kafka answers, as last seen by the health monitor or the producer.</summary>
internal sealed class KafkaHealth
{
    private volatile string? _unreachableReason = "not checked yet";

    public bool IsReachable => _unreachableReason is null;

    /// <summary>Why Kafka is considered unreachable; null while it is reachable.</summary>
    public string? UnreachableReason => _unreachableReason;

    /// <summary>Records the outcome; true when the state changed.</summary>
    public bool Set(string? unreachableReason)
    {
        var previous = _unreachableReason;
        _unreachableReason = unreachableReason;
        return (previous is null) != (unreachableReason is null);
    }
}

/// <summary>
/// Asks Kafka for metadata every <see cref="KafkaOptions.HealthCheckIntervalMs"/> and records the
/// answer in <see cref="KafkaHealth"/>, which <c>/readyz</c> reports. The producer also marks Kafka
/// unreachable at once when librdkafka reports every broker down.
/// </summary>
internal sealed partial class KafkaHealthMonitor(
    KafkaEndpoint endpoint,
    KafkaHealth health,
    IOptions<IngestOptions> options,
    TimeProvider timeProvider,
    ILogger<KafkaHealthMonitor> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var interval = TimeSpan.FromMilliseconds(options.Value.Kafka.HealthCheckIntervalMs);
        // A slow answer is still an answer: only a check that gets none within 5 s (or one interval,
        // if longer) marks Kafka unreachable.
        var timeout = TimeSpan.FromMilliseconds(Math.Max(options.Value.Kafka.HealthCheckIntervalMs, 5_000));
        var topic = options.Value.Kafka.Topic;
        using var admin = new AdminClientBuilder(new AdminClientConfig
        {
            BootstrapServers = endpoint.BootstrapServers,
            ClientId = "ingest-gateway-health",
            SocketTimeoutMs = (int)timeout.TotalMilliseconds,
        })
            .SetLogHandler((_, _) => { }) // the producer logs connection problems already
            .Build();
        using var timer = new PeriodicTimer(interval, timeProvider);
        do
        {
            var reason = await Task.Factory.StartNew(() => Check(admin, topic, timeout), stoppingToken, TaskCreationOptions.LongRunning, TaskScheduler.Default);
            if (health.Set(reason))
            {
                if (reason is null)
                {
                    Log.KafkaReachable(logger, endpoint.BootstrapServers);
                }
                else
                {
                    Log.KafkaUnreachable(logger, endpoint.BootstrapServers, reason);
                }
            }
        }
        while (await WaitAsync(timer, stoppingToken));
    }

    private static string? Check(IAdminClient admin, string topic, TimeSpan timeout)
    {
        try
        {
            var metadata = admin.GetMetadata(topic, timeout);
            return metadata.Brokers.Count > 0 ? null : "Kafka returned no brokers";
        }
        catch (KafkaException e)
        {
            return $"Kafka metadata request failed: {e.Error.Reason}";
        }
    }

    private static async Task<bool> WaitAsync(PeriodicTimer timer, CancellationToken cancellationToken)
    {
        try
        {
            return await timer.WaitForNextTickAsync(cancellationToken);
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventIds.KafkaReachable, LogLevel.Information, "Kafka at {BootstrapServers} is reachable")]
        public static partial void KafkaReachable(ILogger logger, string bootstrapServers);

        [LoggerMessage(EventIds.KafkaUnreachable, LogLevel.Warning, "Kafka at {BootstrapServers} is unreachable: {Reason}")]
        public static partial void KafkaUnreachable(ILogger logger, string bootstrapServers, string reason);
    }
}
