using System.Security.Cryptography;
using System.Text;
using Ingest.Gateway.Diagnostics;
using Ingest.Gateway.Hosting;
using Microsoft.Extensions.Options;

namespace Ingest.Gateway.WebSockets;

/// <summary>
/// <c>GET /ws</c>: checks the handshake (API key, origin, connection limit, draining) and serves the
/// accepted WebSocket with an <see cref="IngestConnection"/>.
/// </summary>
internal sealed partial class WebSocketIngestEndpoint(
    ConnectionServices services,
    ConnectionRegistry registry,
    IOptions<IngestOptions> options,
    IHostApplicationLifetime lifetime,
    ILogger<WebSocketIngestEndpoint> logger)
{
    private readonly byte[][] _apiKeys = options.Value.Auth.ApiKeys.Select(Encoding.UTF8.GetBytes).ToArray();
    private readonly HashSet<string> _allowedOrigins = new(options.Value.AllowedOrigins.Select(o => o.TrimEnd('/')), StringComparer.OrdinalIgnoreCase);
    private readonly TimeSpan _keepAliveInterval = TimeSpan.FromMilliseconds(options.Value.WebSocket.KeepAliveIntervalMs);
    private readonly TimeSpan _keepAliveTimeout = TimeSpan.FromMilliseconds(options.Value.WebSocket.KeepAliveTimeoutMs);

    public async Task HandleAsync(HttpContext context)
    {
        if (!context.WebSockets.IsWebSocketRequest)
        {
            await RejectAsync(context, StatusCodes.Status400BadRequest, "websocket_required", "GET /ws must be a WebSocket upgrade request");
            return;
        }

        if (_apiKeys.Length > 0 && !IsAuthorized(context.Request))
        {
            await RejectAsync(context, StatusCodes.Status401Unauthorized, "unauthorized", "a valid API key is required: Authorization: Bearer <key>, or ?access_token=<key>");
            return;
        }

        if (_allowedOrigins.Count > 0 && context.Request.Headers.Origin is { Count: > 0 } origin && !_allowedOrigins.Contains(origin.ToString().TrimEnd('/')))
        {
            await RejectAsync(context, StatusCodes.Status403Forbidden, "origin_not_allowed", $"origin {origin} is not allowed");
            return;
        }

        if (registry.IsDraining)
        {
            await RejectAsync(context, StatusCodes.Status503ServiceUnavailable, "draining", "the gateway is shutting down; connect to another instance");
            return;
        }

        if (!registry.TryAdd())
        {
            context.Response.Headers.RetryAfter = "5";
            await RejectAsync(context, StatusCodes.Status503ServiceUnavailable, "too_many_connections", "the gateway is at its connection limit");
            return;
        }

        try
        {
            using var socket = await context.WebSockets.AcceptWebSocketAsync(new WebSocketAcceptContext
            {
                KeepAliveInterval = _keepAliveInterval,
                KeepAliveTimeout = _keepAliveTimeout,
            });
            services.Metrics.ConnectionOpened();
            using var activity = IngestMetrics.ActivitySource.StartActivity("ingest.connection");
            activity?.SetTag("ingest.connection.id", context.Connection.Id);
            Log.ConnectionOpened(logger, context.Connection.Id, context.Connection.RemoteIpAddress?.ToString());
            try
            {
                using var connection = new IngestConnection(socket, context.Connection.Id, services);
                await connection.RunAsync(lifetime.ApplicationStopping);
            }
            finally
            {
                services.Metrics.ConnectionClosed();
                Log.ConnectionClosed(logger, context.Connection.Id, socket.CloseStatus);
            }
        }
        finally
        {
            registry.Remove();
        }
    }

    private bool IsAuthorized(HttpRequest request)
    {
        string? key = null;
        var authorization = request.Headers.Authorization.ToString();
        if (authorization.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase))
        {
            key = authorization["Bearer ".Length..].Trim();
        }
        else if (request.Query.TryGetValue("access_token", out var token))
        {
            key = token.ToString();
        }

        if (string.IsNullOrEmpty(key))
        {
            return false;
        }

        var presented = Encoding.UTF8.GetBytes(key);
        var match = false;
        foreach (var accepted in _apiKeys)
        {
            // Constant-time comparison, and no early exit, so timing does not reveal keys.
            match |= CryptographicOperations.FixedTimeEquals(presented, accepted);
        }

        return match;
    }

    private async Task RejectAsync(HttpContext context, int status, string code, string message)
    {
        Log.HandshakeRejected(logger, status, code, context.Connection.RemoteIpAddress?.ToString());
        context.Response.StatusCode = status;
        await context.Response.WriteAsJsonAsync(new HandshakeError(code, message));
    }

    internal sealed record HandshakeError(string Error, string Message);

    private static partial class Log
    {
        [LoggerMessage(EventIds.ConnectionOpened, LogLevel.Debug, "Connection {ConnectionId} opened from {RemoteAddress}")]
        public static partial void ConnectionOpened(ILogger logger, string connectionId, string? remoteAddress);

        [LoggerMessage(EventIds.ConnectionClosed, LogLevel.Debug, "Connection {ConnectionId} closed ({CloseStatus})")]
        public static partial void ConnectionClosed(ILogger logger, string connectionId, System.Net.WebSockets.WebSocketCloseStatus? closeStatus);

        [LoggerMessage(EventIds.HandshakeRejected, LogLevel.Information, "Handshake rejected with {Status} {Code} from {RemoteAddress}")]
        public static partial void HandshakeRejected(ILogger logger, int status, string code, string? remoteAddress);
    }
}
