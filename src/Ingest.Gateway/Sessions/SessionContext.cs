using Ingest.Gateway.Configuration;
using Ingest.Gateway.Diagnostics;
using Ingest.Gateway.Lifecycle;
using Ingest.Gateway.Limits;
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
    EventRateLimiter eventRate,
    ReassemblyBudget reassembly,
    QueueBudget queue,
    ILoggerFactory loggerFactory)
{
    private readonly double _invalidPerSecond = options.Value.Limits.InvalidMessagesPerSecond;
    private readonly int _invalidBurst = options.Value.Limits.InvalidMessageBurst;

    public EventChannel Channel { get; } = channel;

    public IngestMetrics Metrics { get; } = metrics;

    public TimeProvider TimeProvider { get; } = timeProvider;

    public ShutdownBudget Shutdown { get; } = shutdown;

    public EventRateLimiter EventRate { get; } = eventRate;

    /// <summary>The budget for the bytes of messages being reassembled.</summary>
    public MemoryBudget Reassembly { get; } = reassembly;

    /// <summary>The budget for the bytes of messages on their way to Kafka.</summary>
    public MemoryBudget Queue { get; } = queue;

    /// <summary>Largest message after reassembly.</summary>
    public int MaxMessageBytes { get; } = options.Value.WebSocket.MaxMessageBytes;

    /// <summary>How long one frame may wait for the client to take it.</summary>
    public TimeSpan SendTimeout { get; } = TimeSpan.FromMilliseconds(options.Value.WebSocket.SendTimeoutMs);

    /// <summary>Messages a connection may have read and not seen acked before it is read no further.</summary>
    public int MaxUnackedMessages { get; } = options.Value.WebSocket.MaxUnackedMessages;

    /// <summary>Bytes of frames a connection may leave unread before it is closed (1008).</summary>
    public int MaxOutboundBytes { get; } = options.Value.WebSocket.MaxOutboundBytes;

    /// <summary>How long a message may take from its first frame to its last.</summary>
    public TimeSpan MessageTimeout { get; } = TimeSpan.FromMilliseconds(options.Value.WebSocket.MessageTimeoutMs);

    /// <summary>How long a connection may go without a message (zero: for ever).</summary>
    public TimeSpan IdleTimeout { get; } = TimeSpan.FromMilliseconds(options.Value.WebSocket.IdleTimeoutMs);

    public ILogger Logger { get; } = loggerFactory.CreateLogger<IngestSession>();

    /// <summary>The allowance of rejected messages per connection (for the log).</summary>
    public (int Burst, double PerSecond) RejectLimits => (_invalidBurst, _invalidPerSecond);

    /// <summary>The allowance of rejected messages per address (for the log).</summary>
    public (int Burst, double PerSecond) AddressRejectLimits { get; } =
        (options.Value.Limits.InvalidMessageBurstPerAddress, options.Value.Limits.InvalidMessagesPerSecondPerAddress);

    /// <summary>A new connection's allowance of rejected messages, drawing also on its address's (null: none).</summary>
    public RejectBudget NewRejectBudget(AddressRejects? address) => new(_invalidPerSecond, _invalidBurst, address);

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
