namespace Ingest.Contracts;

/// <summary>
/// The <c>code</c> of <c>error</c> frames, also written to dead-letter records' <c>ingest-error</c>
/// header (docs/protocol.md, "Server to client" and "What lands in Kafka").
/// </summary>
public static class ErrorCodes
{
    /// <summary>Not JSON (syntax, trailing data, empty message).</summary>
    public const string InvalidJson = "invalid_json";

    /// <summary>JSON, but not an event or a batch of valid events.</summary>
    public const string InvalidEvent = "invalid_event";

    /// <summary>An array of more than 1000 elements.</summary>
    public const string BatchTooLarge = "batch_too_large";

    /// <summary>A binary message.</summary>
    public const string BinaryNotSupported = "binary_not_supported";

    /// <summary>Kafka did not take the events within the delivery timeout; send the message again.</summary>
    public const string DeliveryFailed = "delivery_failed";

    /// <summary>Dead letters only: a message over the size limit (the connection closed with 1009).</summary>
    public const string MessageTooLarge = "message_too_large";

    /// <summary>Dead letters only: a text message that is not UTF-8 (the connection closed with 1007).</summary>
    public const string InvalidUtf8 = "invalid_utf8";

    /// <summary>Dead letters only: the client broke the WebSocket protocol inside the message (the connection closed with 1002).</summary>
    public const string ProtocolError = "protocol_error";

    /// <summary>An event whose <c>clientId</c> is not the one the connection's token names.</summary>
    public const string ClientIdMismatch = "client_id_mismatch";
}

/// <summary>The WebSocket close codes of the contract (RFC 6455 section 7.4.1).</summary>
public static class CloseCodes
{
    /// <summary>Answering the client's close, after a final ack.</summary>
    public const int Normal = 1000;

    /// <summary>The gateway is shutting down, after a final ack.</summary>
    public const int GoingAway = 1001;

    /// <summary>The client broke the WebSocket protocol (sent by the WebSocket layer).</summary>
    public const int ProtocolError = 1002;

    /// <summary>A text message that is not valid UTF-8.</summary>
    public const int InvalidPayload = 1007;

    /// <summary>A limit of the connection was passed: a message not completed in time, or too many unread frames.</summary>
    public const int PolicyViolation = 1008;

    /// <summary>A message over the size limit.</summary>
    public const int MessageTooBig = 1009;

    /// <summary>An internal failure, or a shutdown that could not resolve every message read.</summary>
    public const int InternalError = 1011;
}
