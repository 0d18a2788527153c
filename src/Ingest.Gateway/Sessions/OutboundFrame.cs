namespace Ingest.Gateway.Sessions;

/// <summary>What the connection's single writer does next, in queue order.</summary>
internal enum OutboundKind
{
    /// <summary>Send <see cref="OutboundFrame.Text"/> (an error or draining frame).</summary>
    Text,

    /// <summary>Send an ack if anything new was resolved since the last one (many deliveries share one).</summary>
    Ack,

    /// <summary>Send an ack even if nothing new was resolved: the last frame before a close.</summary>
    FinalAck,

    /// <summary>Send the close frame; nothing is sent after it.</summary>
    Close,
}

/// <summary>
/// One entry of a session's outbound queue. A frame that answers a message (an error frame)
/// names it in <see cref="Answers"/>: that message counts as resolved only once the frame was
/// sent, so no ack can cover it before its error.
/// </summary>
internal readonly record struct OutboundFrame(OutboundKind Kind, byte[]? Text = null, long Answers = 0, int CloseStatus = 0, string CloseDescription = "")
{
    public static readonly OutboundFrame Ack = new(OutboundKind.Ack);

    public static readonly OutboundFrame FinalAck = new(OutboundKind.FinalAck);

    public static OutboundFrame Frame(byte[] text, long answers = 0) => new(OutboundKind.Text, text, answers);

    public static OutboundFrame Close(int status, string description) => new(OutboundKind.Close, CloseStatus: status, CloseDescription: description);
}
