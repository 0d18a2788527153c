using System.Net;
using System.Net.WebSockets;
using Ingest.Gateway.Configuration;
using Ingest.Gateway.Diagnostics;
using Ingest.Gateway.Lifecycle;
using Ingest.Gateway.Security;
using Ingest.Gateway.Sessions;
using Microsoft.Extensions.Options;

namespace Ingest.Gateway.WebSockets;

/// <summary>
/// <c>GET /ws</c>: checks the handshake (WebSocket version, API key or token and origin through
/// <see cref="ClientAccess"/>, draining, the connection limits) and serves the accepted WebSocket
/// with an <see cref="IngestConnection"/>.
/// </summary>
internal sealed partial class WebSocketIngestEndpoint(
    SessionContext sessions,
    IngestMetrics metrics,
    ConnectionRegistry registry,
    ClientAccess access,
    IOptions<IngestOptions> options,
    ShutdownBudget shutdown,
    ILogger<WebSocketIngestEndpoint> logger)
{
    private readonly TimeSpan _keepAliveInterval = TimeSpan.FromMilliseconds(options.Value.WebSocket.KeepAliveIntervalMs);
    private readonly TimeSpan _keepAliveTimeout = TimeSpan.FromMilliseconds(options.Value.WebSocket.KeepAliveTimeoutMs);

    public async Task HandleAsync(HttpContext context)
    {
        if (!context.WebSockets.IsWebSocketRequest)
        {
            await RefuseNonWebSocketAsync(context);
            return;
        }

        var admission = await access.AdmitAsync(context);
        if (!admission.Admitted)
        {
            return;
        }

        if (registry.IsDraining)
        {
            await access.RejectAsync(context, StatusCodes.Status503ServiceUnavailable, "draining", "the gateway is shutting down; connect to another instance");
            return;
        }

        var address = context.Connection.RemoteIpAddress;
        switch (registry.TryAdd(address, out var addressRejects))
        {
            case Admit.Full:
                metrics.ConnectionRefused();
                context.Response.Headers.RetryAfter = "5";
                await access.RejectAsync(context, StatusCodes.Status503ServiceUnavailable, "too_many_connections", "the gateway is at its connection limit");
                return;
            case Admit.AddressFull:
                metrics.ConnectionRefused();
                context.Response.Headers.RetryAfter = "5";
                await access.RejectAsync(context, StatusCodes.Status429TooManyRequests, "too_many_connections_from_address", $"at most {registry.PerAddressLimit} connections from one address");
                return;
        }

        var session = new IngestSession(sessions, context.Connection.Id, admission.ClientId, addressRejects);
        registry.Track(session);
        var opened = false;
        try
        {
            using var socket = await context.WebSockets.AcceptWebSocketAsync(new WebSocketAcceptContext
            {
                KeepAliveInterval = _keepAliveInterval,
                KeepAliveTimeout = _keepAliveTimeout,
            });
            metrics.ConnectionOpened();
            opened = true;
            using var activity = IngestMetrics.ActivitySource.StartActivity("ingest.connection");
            activity?.SetTag("ingest.connection.id", context.Connection.Id);
            var openedAt = sessions.TimeProvider.GetTimestamp();
            Log.ConnectionOpened(logger, session.ConnectionId, address);
            using var connection = new IngestConnection(socket, session, sessions);
            try
            {
                await connection.RunAsync(shutdown.Draining);
            }
            finally
            {
                LogClosed(session, address, openedAt, socket);
            }
        }
        finally
        {
            // The slot first, then the count: whoever sees the count drop finds the slot free.
            registry.Untrack(session);
            registry.Remove(address);
            if (opened)
            {
                metrics.ConnectionClosed();
            }
        }
    }

    /// <summary>
    /// 426 with <c>Sec-WebSocket-Version: 13</c> for an upgrade in a WebSocket version the gateway
    /// does not speak (RFC 6455 section 4.2.2); 400 for anything else.
    /// </summary>
    private Task RefuseNonWebSocketAsync(HttpContext context)
    {
        var headers = context.Request.Headers;
        if (headers.Upgrade.ToString().Contains("websocket", StringComparison.OrdinalIgnoreCase) && headers.SecWebSocketVersion.ToString() != "13")
        {
            context.Response.Headers.SecWebSocketVersion = "13";
            return access.RejectAsync(context, StatusCodes.Status426UpgradeRequired, "unsupported_websocket_version", "the gateway speaks WebSocket version 13 (RFC 6455) only");
        }

        return access.RejectAsync(context, StatusCodes.Status400BadRequest, "websocket_required", "GET /ws must be a WebSocket upgrade request");
    }

    /// <summary>
    /// The connection's one closing line: its counts, how long it lived, the close code the client
    /// sent (null when none) and the close the gateway sent (null when none: the client vanished).
    /// </summary>
    private void LogClosed(IngestSession session, IPAddress? address, long openedAt, WebSocket socket)
    {
        if (logger.IsEnabled(LogLevel.Information))
        {
            var closed = session.Closed;
            var duration = sessions.TimeProvider.GetElapsedTime(openedAt);
            Log.ConnectionClosed(logger, session.ConnectionId, address, duration.TotalMilliseconds, session.MessagesReceived, session.EventsReceived, (int?)socket.CloseStatus, closed?.Status, closed?.Reason);
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventIds.ConnectionOpened, LogLevel.Debug, "Connection {ConnectionId} opened from {RemoteAddress}")]
        public static partial void ConnectionOpened(ILogger logger, string connectionId, IPAddress? remoteAddress);

        [LoggerMessage(EventIds.ConnectionClosed, LogLevel.Information, "Connection {ConnectionId} from {RemoteAddress} closed after {DurationMs:0} ms: {Messages} messages, {Events} events; client's close {ClientCloseStatus}, gateway's close {CloseStatus} {CloseReason}")]
        public static partial void ConnectionClosed(ILogger logger, string connectionId, IPAddress? remoteAddress, double durationMs, long messages, long events, int? clientCloseStatus, int? closeStatus, string? closeReason);
    }
}
