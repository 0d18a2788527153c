using Ingest.Gateway.Configuration;
using Ingest.Gateway.Diagnostics;
using Ingest.Gateway.Lifecycle;
using Ingest.Gateway.Security;
using Ingest.Gateway.Sessions;
using Microsoft.Extensions.Options;

namespace Ingest.Gateway.WebSockets;

/// <summary>
/// <c>GET /ws</c>: checks the handshake (API key and origin through <see cref="ClientAccess"/>,
/// connection limit, draining) and serves the accepted WebSocket with an <see cref="IngestConnection"/>.
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
    private readonly int _maxMessageBytes = options.Value.WebSocket.MaxMessageBytes;

    public async Task HandleAsync(HttpContext context)
    {
        if (!context.WebSockets.IsWebSocketRequest)
        {
            await access.RejectAsync(context, StatusCodes.Status400BadRequest, "websocket_required", "GET /ws must be a WebSocket upgrade request");
            return;
        }

        if (!await access.AdmitAsync(context))
        {
            return;
        }

        if (registry.IsDraining)
        {
            await access.RejectAsync(context, StatusCodes.Status503ServiceUnavailable, "draining", "the gateway is shutting down; connect to another instance");
            return;
        }

        if (!registry.TryAdd())
        {
            context.Response.Headers.RetryAfter = "5";
            await access.RejectAsync(context, StatusCodes.Status503ServiceUnavailable, "too_many_connections", "the gateway is at its connection limit");
            return;
        }

        try
        {
            using var socket = await context.WebSockets.AcceptWebSocketAsync(new WebSocketAcceptContext
            {
                KeepAliveInterval = _keepAliveInterval,
                KeepAliveTimeout = _keepAliveTimeout,
            });
            metrics.ConnectionOpened();
            using var activity = IngestMetrics.ActivitySource.StartActivity("ingest.connection");
            activity?.SetTag("ingest.connection.id", context.Connection.Id);
            Log.ConnectionOpened(logger, context.Connection.Id, context.Connection.RemoteIpAddress?.ToString());
            using var connection = new IngestConnection(socket, context.Connection.Id, sessions, _maxMessageBytes);
            try
            {
                await connection.RunAsync(shutdown.Draining);
            }
            finally
            {
                metrics.ConnectionClosed();
                Log.ConnectionClosed(logger, context.Connection.Id, socket.CloseStatus);
            }
        }
        finally
        {
            registry.Remove();
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventIds.ConnectionOpened, LogLevel.Debug, "Connection {ConnectionId} opened from {RemoteAddress}")]
        public static partial void ConnectionOpened(ILogger logger, string connectionId, string? remoteAddress);

        [LoggerMessage(EventIds.ConnectionClosed, LogLevel.Debug, "Connection {ConnectionId} closed ({CloseStatus})")]
        public static partial void ConnectionClosed(ILogger logger, string connectionId, System.Net.WebSockets.WebSocketCloseStatus? closeStatus);
    }
}
