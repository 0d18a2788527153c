using Microsoft.Extensions.Options;

namespace Ingest.Gateway.Configuration;

/// <summary>Gateway settings, bound from the configuration section <c>Ingest</c>.</summary>
public sealed class IngestOptions
{
    /// <summary>The configuration section these options bind to.</summary>
    public const string SectionName = "Ingest";

    /// <summary>Kafka connection, topics and producer tuning.</summary>
    [ValidateObjectMembers]
    public KafkaOptions Kafka { get; set; } = new();

    /// <summary>WebSocket endpoint limits.</summary>
    [ValidateObjectMembers]
    public WebSocketOptions WebSocket { get; set; } = new();

    /// <summary>API keys and signed tokens for the handshake.</summary>
    [ValidateObjectMembers]
    public AuthOptions Auth { get; set; } = new();

    /// <summary>
    /// <c>Origin</c> values allowed for browser handshakes (e.g. <c>https://app.example.com</c>).
    /// Defaults to empty, which allows any origin. Requests without <c>Origin</c> are not checked.
    /// </summary>
    public string[] AllowedOrigins { get; set; } = [];

    /// <summary>Connection, address and rate limits.</summary>
    [ValidateObjectMembers]
    public LimitsOptions Limits { get; set; } = new();

    /// <summary>The memory budget for client messages.</summary>
    [ValidateObjectMembers]
    public MemoryOptions Memory { get; set; } = new();

    /// <summary>The bounded channel between the connections and the Kafka producer.</summary>
    [ValidateObjectMembers]
    public ChannelOptions Channel { get; set; } = new();

    /// <summary>Graceful shutdown.</summary>
    [ValidateObjectMembers]
    public ShutdownOptions Shutdown { get; set; } = new();

    /// <summary><c>GET /stream</c>: Server-Sent Events of the events read back from Kafka.</summary>
    [ValidateObjectMembers]
    public StreamOptions Stream { get; set; } = new();

    /// <summary>Where <c>/stats</c> is served, and whether it needs a key.</summary>
    [ValidateObjectMembers]
    public ManagementOptions Management { get; set; } = new();

    /// <summary>
    /// This gateway instance's id, written to every record's <c>ingest-gateway</c> header.
    /// Defaults to the host name and process id.
    /// </summary>
    public string? InstanceId { get; set; }
}
