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
            Log.ConnectionOpened(logger, context.Connection.Id, address?.ToString());
            using var connection = new IngestConnection(socket, session, sessions);
            try
            {
                await connection.RunAsync(shutdown.Draining);
            }
            finally
            {
                Log.ConnectionClosed(logger, context.Connection.Id, socket.CloseStatus);
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

    private static partial class Log
    {
        [LoggerMessage(EventIds.ConnectionOpened, LogLevel.Debug, "Connection {ConnectionId} opened from {RemoteAddress}")]
        public static partial void ConnectionOpened(ILogger logger, string connectionId, string? remoteAddress);

        [LoggerMessage(EventIds.ConnectionClosed, LogLevel.Debug, "Connection {ConnectionId} closed ({CloseStatus})")]
        public static partial void ConnectionClosed(ILogger logger, string connectionId, System.Net.WebSockets.WebSocketCloseStatus? closeStatus);
    }
}
