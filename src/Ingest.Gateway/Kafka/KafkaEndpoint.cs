using Ingest.Gateway.Diagnostics;
using Ingest.Gateway.Hosting;
using Ingest.Kafka.Embedded;
using Microsoft.Extensions.Options;

namespace Ingest.Gateway.Kafka;

/// <summary>
/// Where the gateway's Kafka is: the configured bootstrap servers, or, when none are configured,
/// an embedded development broker started here with the events and dead-letter topics.
/// </summary>
internal sealed partial class KafkaEndpoint : IDisposable
{
    private readonly EmbeddedKafkaCluster? _embedded;

    public KafkaEndpoint(IOptions<IngestOptions> options, ILogger<KafkaEndpoint> logger)
    {
        var kafka = options.Value.Kafka;
        if (!string.IsNullOrWhiteSpace(kafka.BootstrapServers))
        {
            BootstrapServers = kafka.BootstrapServers;
            return;
        }

        var embedded = kafka.Embedded;
        _embedded = EmbeddedKafkaCluster.Start(embedded.Brokers);
        _embedded.CreateTopic(kafka.Topic, embedded.Partitions, replicationFactor: embedded.Brokers);
        if (!string.IsNullOrEmpty(kafka.DeadLetterTopic))
        {
            _embedded.CreateTopic(kafka.DeadLetterTopic, embedded.Partitions, replicationFactor: embedded.Brokers);
        }

        BootstrapServers = _embedded.BootstrapServers;
        Log.EmbeddedKafkaStarted(logger, BootstrapServers, embedded.Brokers, embedded.Partitions);
    }

    public string BootstrapServers { get; }

    /// <summary>The embedded broker, or null when Kafka is external.</summary>
    public EmbeddedKafkaCluster? Embedded => _embedded;

    public void Dispose() => _embedded?.Dispose();

    private static partial class Log
    {
        [LoggerMessage(EventIds.EmbeddedKafkaStarted, LogLevel.Information,
            "Embedded development Kafka started at {BootstrapServers} ({Brokers} brokers, {Partitions} partitions a topic); data lives in this process's memory")]
        public static partial void EmbeddedKafkaStarted(ILogger logger, string bootstrapServers, int brokers, int partitions);
    }
}
