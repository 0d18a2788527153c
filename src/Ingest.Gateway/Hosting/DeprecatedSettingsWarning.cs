using Ingest.Gateway.Configuration;
using Ingest.Gateway.Diagnostics;
using Ingest.Gateway.Kafka;
using Microsoft.Extensions.Options;

namespace Ingest.Gateway.Hosting;

/// <summary>Warns once at start-up for each setting of an older layout that still works, naming its new key.</summary>
internal sealed partial class DeprecatedSettingsWarning(IOptions<IngestOptions> options, ILogger<DeprecatedSettingsWarning> logger) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken)
    {
        foreach (var (oldKey, newKey) in KafkaClientConfigs.DeprecatedKeys(options.Value.Kafka))
        {
            Log.Deprecated(logger, oldKey, newKey);
        }

        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    private static partial class Log
    {
        [LoggerMessage(EventIds.ConfigurationDeprecated, LogLevel.Warning, "{OldKey} is deprecated and will stop working in the next version: use {NewKey} (it applies to every Kafka client)")]
        public static partial void Deprecated(ILogger logger, string oldKey, string newKey);
    }
}
