using Ingest.Gateway.Configuration;
using Ingest.Gateway.Diagnostics;
using Ingest.Kafka.Embedded;
using Microsoft.Extensions.Options;

namespace Ingest.Gateway.Kafka;

/// <summary>
/// Where the gateway's Kafka is: the configured bootstrap servers, or, when none are configured,
/// the embedded development broker, which <see cref="EmbeddedKafkaService"/> starts in the host's
/// first start-up step. Nothing starts in a constructor.
/// </summary>
internal sealed class KafkaEndpoint(IOptions<IngestOptions> options)
{
    private readonly string? _configured = string.IsNullOrWhiteSpace(options.Value.Kafka.BootstrapServers) ? null : options.Value.Kafka.BootstrapServers;
    private EmbeddedKafkaCluster? _embedded;

    /// <summary>True when no bootstrap servers are configured: the gateway runs its own broker.</summary>
    public bool IsEmbedded => _configured is null;

    /// <summary>The brokers; for the embedded broker, available once its start-up step ran.</summary>
    public string BootstrapServers => _configured ?? _embedded?.BootstrapServers
        ?? throw new InvalidOperationException("The embedded Kafka has not been started yet: it starts in the host's StartingAsync step.");

    /// <summary>The embedded broker once started, or null (Kafka is external, or not started yet).</summary>
    public EmbeddedKafkaCluster? Embedded => _embedded;

    internal void Attach(EmbeddedKafkaCluster cluster) => _embedded = cluster;
}

/// <summary>
/// Start-up step "embedded Kafka": when no bootstrap servers are configured, starts the development
/// broker with the events and dead-letter topics before any other service starts, and stops it
/// after every other service has stopped (so no client loses its broker under it).
/// </summary>
internal sealed partial class EmbeddedKafkaService(
    KafkaEndpoint endpoint,
    IOptions<IngestOptions> options,
    ILogger<EmbeddedKafkaService> logger) : IHostedLifecycleService
{
    public Task StartingAsync(CancellationToken cancellationToken)
    {
        if (!endpoint.IsEmbedded)
        {
            return Task.CompletedTask;
        }

        var kafka = options.Value.Kafka;
        var settings = kafka.Embedded;
        var cluster = EmbeddedKafkaCluster.Start(settings.Brokers);
        cluster.CreateTopic(kafka.Topic, settings.Partitions, replicationFactor: settings.Brokers);
        if (!string.IsNullOrEmpty(kafka.DeadLetterTopic))
        {
            cluster.CreateTopic(kafka.DeadLetterTopic, settings.Partitions, replicationFactor: settings.Brokers);
        }

        endpoint.Attach(cluster);
        Log.EmbeddedKafkaStarted(logger, cluster.BootstrapServers, settings.Brokers, settings.Partitions);
        return Task.CompletedTask;
    }

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StartedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StoppingAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StoppedAsync(CancellationToken cancellationToken)
    {
        endpoint.Embedded?.Dispose();
        return Task.CompletedTask;
    }

    private static partial class Log
    {
        [LoggerMessage(EventIds.EmbeddedKafkaStarted, LogLevel.Information,
            "Embedded development Kafka started at {BootstrapServers} ({Brokers} brokers, {Partitions} partitions a topic); data lives in this process's memory")]
        public static partial void EmbeddedKafkaStarted(ILogger logger, string bootstrapServers, int brokers, int partitions);
    }
}
