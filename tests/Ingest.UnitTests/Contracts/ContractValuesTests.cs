using System.Text.Json;
using Ingest.Contracts;

namespace Ingest.UnitTests.Contracts;

/// <summary>
/// The values of the contract's names, written out as docs/protocol.md states them: the one place
/// where the tests spell them, so that the tests that use the constants still pin the wire.
/// </summary>
public sealed class ContractValuesTests
{
    [Fact]
    public void ErrorCodes_AreTheDocumentedCodes()
    {
        Assert.Equal(
            ["invalid_json", "invalid_event", "batch_too_large", "binary_not_supported", "delivery_failed", "message_too_large", "invalid_utf8"],
            [ErrorCodes.InvalidJson, ErrorCodes.InvalidEvent, ErrorCodes.BatchTooLarge, ErrorCodes.BinaryNotSupported, ErrorCodes.DeliveryFailed, ErrorCodes.MessageTooLarge, ErrorCodes.InvalidUtf8]);
    }

    [Fact]
    public void CloseCodes_AreTheDocumentedCodes()
    {
        Assert.Equal(
            [1000, 1001, 1007, 1009, 1011],
            [CloseCodes.Normal, CloseCodes.GoingAway, CloseCodes.InvalidPayload, CloseCodes.MessageTooBig, CloseCodes.InternalError]);
    }

    [Fact]
    public void IngestHeaders_AreTheDocumentedNames()
    {
        Assert.Equal(
            ["ingest-source", "ingest-received-at", "ingest-connection", "ingest-gateway", "ingest-error", "ingest-error-detail", "traceparent"],
            [IngestHeaders.Source, IngestHeaders.ReceivedAt, IngestHeaders.Connection, IngestHeaders.Gateway, IngestHeaders.Error, IngestHeaders.ErrorDetail, IngestHeaders.TraceParent]);
    }

    [Fact]
    public void GatewayStats_IsWrittenWithTheDocumentedNames()
    {
        var json = JsonSerializer.Serialize(Distinct(), GatewayStats.JsonOptions);

        using var document = JsonDocument.Parse(json);
        Assert.Equal(
            [
                "connectionsActive", "connectionsOpened", "messagesReceived", "messagesRejected", "eventsReceived", "eventsDelivered",
                "messagesDeliveryFailed", "deadLetters", "deadLettersFailed", "acksSent", "channelDepth", "channelCapacity", "streamSubscribers",
                "streamDelivered", "streamDropped", "allocatedBytes", "gen0Collections", "gen2Collections", "gcPauseMs",
            ],
            document.RootElement.EnumerateObject().Select(p => p.Name));
    }

    [Fact]
    public void GatewayStats_Parse_ReadsEveryFieldBack()
    {
        var stats = Distinct();

        Assert.Equal(stats, GatewayStats.Parse(JsonSerializer.Serialize(stats, GatewayStats.JsonOptions)));
    }

    /// <summary>Every field a different value, so that a field read into another one shows.</summary>
    private static GatewayStats Distinct() => new(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19);
}
