using Ingest.Gateway.Diagnostics;
using Ingest.Gateway.Kafka;
using Ingest.Kafka.Discovery;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.Options;
using Ingest.Gateway.Configuration;

namespace Ingest.Gateway.Hosting;

/// <summary>
/// Publishes the embedded broker's address and this gateway's URLs in
/// <see cref="DevEnvironmentFile"/> once the server listens, so that the listener and the load
/// harness on the same machine find them with no flags; removes the file on shutdown.
/// </summary>
internal sealed partial class DevEnvironmentPublisher(
    KafkaEndpoint endpoint,
    IServer server,
    IOptions<IngestOptions> options,
    IHostApplicationLifetime lifetime,
    ILogger<DevEnvironmentPublisher> logger) : IHostedService
{
    private string? _path;

    public Task StartAsync(CancellationToken cancellationToken)
    {
        if (!endpoint.IsEmbedded)
        {
            return Task.CompletedTask;
        }

        var configured = options.Value.Kafka.Embedded.DiscoveryFile;
        if (configured is { Length: 0 })
        {
            return Task.CompletedTask; // explicitly turned off
        }

        _path = configured ?? DevEnvironmentFile.DefaultPath;
        lifetime.ApplicationStarted.Register(Publish);
        return Task.CompletedTask;
    }

    private void Publish()
    {
        var urls = server.Features.Get<IServerAddressesFeature>()?.Addresses.ToArray() ?? [];
        var kafka = options.Value.Kafka;
        DevEnvironmentFile.Write(
            new DevEnvironment(endpoint.BootstrapServers, Environment.ProcessId, DateTimeOffset.UtcNow, kafka.Topic,
                string.IsNullOrEmpty(kafka.DeadLetterTopic) ? null : kafka.DeadLetterTopic, urls),
            _path);
        Log.Published(logger, _path!, endpoint.BootstrapServers, string.Join(' ', urls));
    }

    public Task StopAsync(CancellationToken cancellationToken)
    {
        if (_path is not null)
        {
            DevEnvironmentFile.DeleteIfOwned(_path);
        }

        return Task.CompletedTask;
    }

    private static partial class Log
    {
        [LoggerMessage(EventIds.DevEnvironmentPublished, LogLevel.Information, "Published Kafka {BootstrapServers} and gateway {Urls} in {Path} for the listener and the load harness")]
        public static partial void Published(ILogger logger, string path, string bootstrapServers, string urls);
    }
}
