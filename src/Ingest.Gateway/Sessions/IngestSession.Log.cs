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

        [LoggerMessage(EventIds.DrainTimedOut, LogLevel.Warning, "Connection {ConnectionId}: closing before every message was resolved (resolved up to {ResolvedUpTo} of {Expected})")]
        public static partial void CloseBeforeResolved(ILogger logger, string connectionId, long resolvedUpTo, long expected);
    }
}
