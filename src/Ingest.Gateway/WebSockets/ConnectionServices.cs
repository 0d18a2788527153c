using System.Text;
using Confluent.Kafka;
using Ingest.Gateway.Diagnostics;
using Ingest.Gateway.Hosting;
using Ingest.Gateway.Pipeline;
using Microsoft.Extensions.Options;

namespace Ingest.Gateway.WebSockets;

/// <summary>What every <see cref="IngestConnection"/> shares: settings, the channel, metrics, ids.</summary>
internal sealed class ConnectionServices
{
    public ConnectionServices(
        IOptions<IngestOptions> options,
        EventChannel channel,
        IngestMetrics metrics,
        TimeProvider timeProvider,
        ILoggerFactory loggerFactory)
    {
        Options = options.Value;
        Channel = channel;
        Metrics = metrics;
        TimeProvider = timeProvider;
        Logger = loggerFactory.CreateLogger<IngestConnection>();
        InstanceIdBytes = Encoding.UTF8.GetBytes(string.IsNullOrWhiteSpace(Options.InstanceId)
            ? $"{Environment.MachineName}-{Environment.ProcessId}"
            : Options.InstanceId);
        DeadLetters = new UntrackedDeadLetters(metrics);
    }

    public IngestOptions Options { get; }

    public EventChannel Channel { get; }

    public IngestMetrics Metrics { get; }

    public TimeProvider TimeProvider { get; }

    public ILogger Logger { get; }

    /// <summary>This gateway's id (UTF-8), the <c>ingest-gateway</c> header.</summary>
    public byte[] InstanceIdBytes { get; }

    /// <summary>Target for dead-letter records of connections that are closing and can no longer be acked.</summary>
    public IDeliveryTarget DeadLetters { get; }

    private sealed class UntrackedDeadLetters(IngestMetrics metrics) : IDeliveryTarget
    {
        public void OnDelivered(IngestMessage message) => metrics.DeadLetterWritten(failed: message.FirstError is not null);

        public void OnDeliveryFailed(IngestMessage message, Error error) => metrics.DeadLetterWritten(failed: true);
    }
}
