using Ingest.Gateway.Configuration;
using Ingest.Gateway.Diagnostics;
using Ingest.Gateway.Lifecycle;
using Ingest.Gateway.Pipeline;
using Microsoft.Extensions.Options;

namespace Ingest.Gateway.Sessions;

/// <summary>What every <see cref="IngestSession"/> shares: settings, the channel, metrics, the clock.</summary>
internal sealed class SessionContext(
    IOptions<IngestOptions> options,
    EventChannel channel,
    IngestMetrics metrics,
    TimeProvider timeProvider,
    ShutdownBudget shutdown,
    ILoggerFactory loggerFactory)
{
    public EventChannel Channel { get; } = channel;

    public IngestMetrics Metrics { get; } = metrics;

    public TimeProvider TimeProvider { get; } = timeProvider;

    public ShutdownBudget Shutdown { get; } = shutdown;

    public ILogger Logger { get; } = loggerFactory.CreateLogger<IngestSession>();

    /// <summary>Whether rejected messages are written to the dead-letter topic.</summary>
    public bool DeadLetters { get; } = !string.IsNullOrEmpty(options.Value.Kafka.DeadLetterTopic);

    /// <summary>
    /// How long a close that the client (or an oversize message) started waits for what was read
    /// to resolve before the final ack; a shutdown waits by <see cref="Shutdown"/> instead.
    /// </summary>
    public TimeSpan CloseWait { get; } = TimeSpan.FromMilliseconds(options.Value.Shutdown.TimeoutMs);

    /// <summary>The window over which <c>draining</c> frames spread their reconnect hints.</summary>
    public int ReconnectWindowMs { get; } = options.Value.Shutdown.ReconnectWindowMs;
}
