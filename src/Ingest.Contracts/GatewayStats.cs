using System.Text.Json;

namespace Ingest.Contracts;

/// <summary>
/// The <c>GET /stats</c> document: totals since the gateway started (docs/protocol.md, "Endpoints").
/// <c>AcksSent</c> counts ack frames (each may cover many messages); <c>AllocatedBytes</c>, the
/// collection counts and the total GC pause are the process's managed heap activity, for comparing
/// runs (the load harness reports them per event).
/// </summary>
public sealed record GatewayStats(
    long ConnectionsActive,
    long ConnectionsOpened,
    long MessagesReceived,
    long MessagesRejected,
    long EventsReceived,
    long EventsDelivered,
    long MessagesDeliveryFailed,
    long DeadLetters,
    long DeadLettersFailed,
    long AcksSent,
    int ChannelDepth,
    int ChannelCapacity,
    long StreamSubscribers,
    long StreamDelivered,
    long StreamDropped,
    long AllocatedBytes,
    int Gen0Collections,
    int Gen2Collections,
    long GcPauseMs)
{
    /// <summary>How the document is written and read: camelCase names (ASP.NET Core's web defaults).</summary>
    public static JsonSerializerOptions JsonOptions { get; } = new(JsonSerializerDefaults.Web);

    /// <summary>Reads a <c>/stats</c> response body.</summary>
    public static GatewayStats Parse(string json) =>
        JsonSerializer.Deserialize<GatewayStats>(json, JsonOptions) ?? throw new JsonException("/stats returned null");
}
