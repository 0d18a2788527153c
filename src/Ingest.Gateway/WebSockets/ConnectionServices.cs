using System.Buffers.Text;
using System.Text;
using Confluent.Kafka;
using Ingest.Gateway.Diagnostics;
using Ingest.Gateway.Hosting;
using Ingest.Gateway.Pipeline;
using Ingest.Kafka;
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
        GatewayHeader = new Header(IngestHeaders.Gateway, InstanceIdBytes);
        DeadLetters = new UntrackedDeadLetters(metrics);
    }

    public IngestOptions Options { get; }

    public EventChannel Channel { get; }

    public IngestMetrics Metrics { get; }

    public TimeProvider TimeProvider { get; }

    public ILogger Logger { get; }

    /// <summary>This gateway's id (UTF-8), the <c>ingest-gateway</c> header.</summary>
    public byte[] InstanceIdBytes { get; }

    /// <summary>The <c>ingest-gateway</c> header, shared by every record (headers are only read once created).</summary>
    public Header GatewayHeader { get; }

    /// <summary>
    /// The <c>ingest-received-at</c> header for the current millisecond: one instance per millisecond
    /// serves every connection, instead of a new header and digit array per message.
    /// </summary>
    public (long UnixMs, Header Header) ReceivedAtHeader()
    {
        var now = TimeProvider.GetUtcNow().ToUnixTimeMilliseconds();
        var cached = Volatile.Read(ref _receivedAt);
        if (cached is not null && cached.UnixMs == now)
        {
            return (now, cached.Header);
        }

        Span<byte> digits = stackalloc byte[20];
        Utf8Formatter.TryFormat(now, digits, out var length);
        cached = new ReceivedAt(now, new Header(IngestHeaders.ReceivedAt, digits[..length].ToArray()));
        Volatile.Write(ref _receivedAt, cached);
        return (now, cached.Header);
    }

    /// <summary>Target for dead-letter records of connections that are closing and can no longer be acked.</summary>
    public IDeliveryTarget DeadLetters { get; }

    private ReceivedAt? _receivedAt;

    private sealed record ReceivedAt(long UnixMs, Header Header);

    private sealed class UntrackedDeadLetters(IngestMetrics metrics) : IDeliveryTarget
    {
        public void OnDelivered(IngestMessage message) => metrics.DeadLetterWritten(failed: message.FirstError is not null);

        public void OnDeliveryFailed(IngestMessage message, Error error) => metrics.DeadLetterWritten(failed: true);
    }
}
