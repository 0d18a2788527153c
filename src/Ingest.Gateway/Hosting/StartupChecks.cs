using Ingest.Gateway.Configuration;
using Ingest.Gateway.Diagnostics;
using Ingest.Gateway.Kafka;
using Microsoft.Extensions.Options;

namespace Ingest.Gateway.Hosting;

/// <summary>
/// Start-up step "checks", before anything else starts: the connection limits must fit the
/// process's file descriptors (else a <see cref="ConfigurationException"/>: exit 2, the key named),
/// and each setting of an older layout that still works is warned about, with its new key. At
/// Debug, the Kafka client properties taken from configuration, secret values masked.
/// </summary>
internal sealed partial class StartupChecks(
    IOptions<IngestOptions> options,
    IServiceProvider services,
    ILogger<StartupChecks> logger) : IHostedLifecycleService
{
    public Task StartingAsync(CancellationToken cancellationToken)
    {
        var limits = services.GetRequiredService<ConnectionLimits>();
        var memory = options.Value.Memory;
        Log.Limits(logger, limits.Total, limits.WebSockets, limits.Http, limits.Descriptors, memory.MaxReassemblyBytes / (1024 * 1024), memory.MaxQueuedBytes / (1024 * 1024));
        Log.SocketScheduling(logger, IngestGatewayExtensions.InlineSocketCompletions ? "the socket threads" : "the thread pool");
        foreach (var (oldKey, newKey) in KafkaClientConfigs.DeprecatedKeys(options.Value.Kafka))
        {
            Log.Deprecated(logger, oldKey, newKey);
        }

        if (logger.IsEnabled(LogLevel.Debug))
        {
            var kafka = options.Value.Kafka;
            Log.KafkaProperties(logger, Masked(kafka.Client), Masked(kafka.Producer), Masked(kafka.Consumer));
        }

        return Task.CompletedTask;
    }

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StartedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StoppingAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StoppedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    /// <summary>
    /// The properties in key order, the values of secret ones masked here already, not only by the
    /// logs' redaction; a <see cref="Dictionary{TKey, TValue}"/>, which Serilog logs as a dictionary.
    /// </summary>
    private static Dictionary<string, string> Masked(Dictionary<string, string> properties) =>
        properties.OrderBy(p => p.Key, StringComparer.Ordinal).ToDictionary(p => p.Key, p => LogRedactor.IsSecretProperty(p.Key) ? LogRedactor.Mask : p.Value);

    private static partial class Log
    {
        [LoggerMessage(EventIds.ConfigurationDeprecated, LogLevel.Warning, "{OldKey} is deprecated and will stop working in the next version: use {NewKey} (it applies to every Kafka client)")]
        public static partial void Deprecated(ILogger logger, string oldKey, string newKey);

        [LoggerMessage(EventIds.LimitsApplied, LogLevel.Information, "Connection limits: {Total} TCP connections ({WebSockets} WebSockets, {Http} other HTTP) within a limit of {Descriptors} file descriptors; client messages: {ReassemblyMiB} MiB being reassembled, {QueuedMiB} MiB on their way to Kafka")]
        public static partial void Limits(ILogger logger, int total, int webSockets, int http, long descriptors, long reassemblyMiB, long queuedMiB);

        [LoggerMessage(EventIds.SocketScheduling, LogLevel.Information, "Connections run on {Threads} (DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS, deploy/gateway.env)")]
        public static partial void SocketScheduling(ILogger logger, string threads);

        [LoggerMessage(EventIds.KafkaProperties, LogLevel.Debug, "Kafka client properties from configuration: {Client} for every client, {Producer} for the producer, {Consumer} for the /stream consumer")]
        public static partial void KafkaProperties(ILogger logger, IReadOnlyDictionary<string, string> client, IReadOnlyDictionary<string, string> producer, IReadOnlyDictionary<string, string> consumer);
    }
}
