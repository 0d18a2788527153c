using Confluent.Kafka;
using Ingest.Gateway.Configuration;
using Ingest.Gateway.Diagnostics;
using Ingest.Gateway.Lifecycle;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;

namespace Ingest.Gateway.Kafka;

/// <summary>Whether Kafka answers, as last seen by the health monitor or the producer. Thread-safe.</summary>
internal sealed class KafkaHealth
{
    private State _state = new("not checked yet");

    public bool IsReachable => Volatile.Read(ref _state).UnreachableReason is null;

    /// <summary>Why Kafka is considered unreachable; null while it is reachable.</summary>
    public string? UnreachableReason => Volatile.Read(ref _state).UnreachableReason;

    /// <summary>Records the outcome in one atomic step; true when reachability changed.</summary>
    public bool Set(string? unreachableReason)
    {
        var previous = Interlocked.Exchange(ref _state, new State(unreachableReason));
        return (previous.UnreachableReason is null) != (unreachableReason is null);
    }

    private sealed record State(string? UnreachableReason);
}

/// <summary>Readiness: Kafka answers metadata requests.</summary>
internal sealed class KafkaHealthCheck(KafkaHealth health) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default) =>
        Task.FromResult(health.UnreachableReason is { } reason
            ? HealthCheckResult.Unhealthy(reason, data: ReadinessStatus.Of("kafka_unreachable"))
            : HealthCheckResult.Healthy());
}

/// <summary>
/// Asks Kafka for metadata every <see cref="KafkaOptions.HealthCheckIntervalMs"/> and records the
/// answer in <see cref="KafkaHealth"/>, which the readiness check reads. One thread, started once,
/// does the blocking requests for the whole life of the process. A failed check is a state, never a
/// reason to stop the host.
/// </summary>
internal sealed partial class KafkaHealthMonitor(
    KafkaClientConfigs configs,
    KafkaEndpoint endpoint,
    KafkaHealth health,
    ShutdownBudget shutdown,
    IOptions<IngestOptions> options,
    ILogger<KafkaHealthMonitor> logger) : IHostedLifecycleService, IDisposable
{
    private readonly CancellationTokenSource _stopping = new();
    private readonly TaskCompletionSource _stopped = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public Task StartAsync(CancellationToken cancellationToken)
    {
        new Thread(Run) { IsBackground = true, Name = "kafka-health" }.Start();
        return Task.CompletedTask;
    }

    public Task StartingAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StartedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    /// <summary>Checks stop with the shutdown; during the drain <c>/readyz</c> says "draining" anyway.</summary>
    public Task StoppingAsync(CancellationToken cancellationToken) => _stopping.CancelAsync();

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    /// <summary>
    /// After the producer's flush: the admin client is disposed on its thread, which may still be
    /// inside a metadata request (up to its timeout while Kafka is down); wait for it within the
    /// shutdown budget only, so that the exit is not held up by a health check.
    /// </summary>
    public Task StoppedAsync(CancellationToken cancellationToken) =>
        _stopped.Task.WaitAsync(shutdown.Final).WaitAsync(cancellationToken).ContinueWith(static _ => { }, TaskScheduler.Default);

    public void Dispose() => _stopping.Dispose();

    private void Run()
    {
        var interval = TimeSpan.FromMilliseconds(options.Value.Kafka.HealthCheckIntervalMs);
        // A slow answer is still an answer: only a check that gets none within 5 s (or one interval,
        // if longer) marks Kafka unreachable.
        var timeout = TimeSpan.FromMilliseconds(Math.Max(options.Value.Kafka.HealthCheckIntervalMs, 5_000));
        var topic = options.Value.Kafka.Topic;
        var bootstrap = endpoint.BootstrapServers;
        var stopping = _stopping.Token.WaitHandle;
        try
        {
            do
            {
                try
                {
                    using var admin = new AdminClientBuilder(configs.HealthCheck(timeout))
                        .SetLogHandler((_, _) => { }) // the producer logs connection problems already
                        .Build();
                    do
                    {
                        Report(Check(admin, topic, timeout), bootstrap);
                    }
                    while (!stopping.WaitOne(interval));
                    return;
                }
                catch (Exception e) when (e is not OutOfMemoryException)
                {
                    Report($"the health check failed: {e.Message}", bootstrap);
                    Log.HealthCheckFailed(logger, interval.TotalMilliseconds, e);
                }
            }
            while (!stopping.WaitOne(interval));
        }
        finally
        {
            _stopped.TrySetResult();
        }
    }

    private void Report(string? reason, string bootstrap)
    {
        if (!health.Set(reason))
        {
            return;
        }

        if (reason is null)
        {
            Log.KafkaReachable(logger, bootstrap);
        }
        else
        {
            Log.KafkaUnreachable(logger, bootstrap, reason);
        }
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

    private static partial class Log
    {
        [LoggerMessage(EventIds.KafkaReachable, LogLevel.Information, "Kafka at {BootstrapServers} is reachable")]
        public static partial void KafkaReachable(ILogger logger, string bootstrapServers);

        [LoggerMessage(EventIds.KafkaUnreachable, LogLevel.Warning, "Kafka at {BootstrapServers} is unreachable: {Reason}")]
        public static partial void KafkaUnreachable(ILogger logger, string bootstrapServers, string reason);

        [LoggerMessage(EventIds.KafkaHealthCheckFailed, LogLevel.Error, "The Kafka health check failed; trying again in {IntervalMs} ms")]
        public static partial void HealthCheckFailed(ILogger logger, double intervalMs, Exception exception);
    }
}
