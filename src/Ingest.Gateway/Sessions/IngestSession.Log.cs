using Ingest.Gateway.Diagnostics;

namespace Ingest.Gateway.Sessions;

internal sealed partial class IngestSession
{
    private static partial class Log
    {
        [LoggerMessage(EventIds.MessageTooLarge, LogLevel.Information, "Connection {ConnectionId}: message {Sequence} exceeds {Limit} bytes; closing with 1009")]
        public static partial void MessageTooLarge(ILogger logger, string connectionId, long sequence, int limit);

        [LoggerMessage(EventIds.InvalidUtf8, LogLevel.Information, "Connection {ConnectionId}: message {Sequence} is not valid UTF-8; closed with 1007")]
        public static partial void InvalidUtf8(ILogger logger, string connectionId, long sequence);

        [LoggerMessage(EventIds.ProtocolError, LogLevel.Information, "Connection {ConnectionId}: message {Sequence} broke the WebSocket protocol ({Reason}); closed with 1002")]
        public static partial void ProtocolError(ILogger logger, string connectionId, long sequence, string reason);

        [LoggerMessage(EventIds.MessageTimedOut, LogLevel.Information, "Connection {ConnectionId}: message {Sequence} was not completed within {TimeoutMs} ms; closing with 1008")]
        public static partial void MessageTimedOut(ILogger logger, string connectionId, long sequence, double timeoutMs);

        [LoggerMessage(EventIds.OutboundLimit, LogLevel.Information, "Connection {ConnectionId}: {Bytes} bytes of frames unread, over the {Limit}-byte limit; closing with 1008")]
        public static partial void OutboundLimit(ILogger logger, string connectionId, long bytes, int limit);

        [LoggerMessage(EventIds.TooManyRejected, LogLevel.Information, "Connection {ConnectionId}: message {Sequence} was rejected past the {Allowance}'s allowance of {Burst} at once or {PerSecond}/s; closing with 1008")]
        public static partial void TooManyRejected(ILogger logger, string connectionId, long sequence, string allowance, int burst, double perSecond);

        [LoggerMessage(EventIds.DeadLetterFailed, LogLevel.Warning, "Connection {ConnectionId}: the dead letter of message {Sequence} ({Code}) found no memory in the queue budget within {WaitMs} ms and was not written")]
        public static partial void DeadLetterNotQueued(ILogger logger, string connectionId, long sequence, string code, double waitMs);

        [LoggerMessage(EventIds.DrainTimedOut, LogLevel.Warning, "Connection {ConnectionId}: closing before every message was resolved (resolved up to {ResolvedUpTo} of {Expected})")]
        public static partial void CloseBeforeResolved(ILogger logger, string connectionId, long resolvedUpTo, long expected);
    }
}
