using System.Diagnostics;
using System.Net;
using System.Net.WebSockets;
using Ingest.Gateway.Configuration;
using Ingest.Gateway.Diagnostics;
using Ingest.Gateway.Lifecycle;
using Ingest.Gateway.Security;
using Ingest.Gateway.Sessions;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Options;

namespace Ingest.Gateway.WebSockets;

/// <summary>
/// <c>GET /ws</c>: checks the handshake (WebSocket version, API key or token and origin through
/// <see cref="ClientAccess"/>, draining, the connection limits) and serves the accepted WebSocket
/// with an <see cref="IngestConnection"/>: over plain HTTP/1.1 after its request has ended, at the
/// connection's level (<see cref="ConnectionTakeover"/>); otherwise inside its request.
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
                metrics.ConnectionRefused("too_many_connections");
                context.Response.Headers.RetryAfter = "5";
                await access.RejectAsync(context, StatusCodes.Status503ServiceUnavailable, "too_many_connections", "the gateway is at its connection limit");
                return;
            case Admit.AddressFull:
                metrics.ConnectionRefused("too_many_connections_from_address");
                context.Response.Headers.RetryAfter = "5";
                await access.RejectAsync(context, StatusCodes.Status429TooManyRequests, "too_many_connections_from_address", $"at most {registry.PerAddressLimit} connections from one address");
                return;
        }

        var session = new IngestSession(sessions, context.Connection.Id, admission.ClientId, addressRejects);
        registry.Track(session);
        var served = false;
        try
        {
            if (context.Features.Get<ConnectionTakeover>() is { } takeover && takeover.ServesRequest(context))
            {
                // 101 from this request; the WebSocket then runs at the connection's level, after the
                // request has ended and let go of its HTTP/1.1 state.
                await AnswerUpgradeAsync(context);
                var activity = ConnectionTrace.Start(session, context.Connection.Id);
                takeover.HandOff(transport => ServeAsync(
                    WebSocket.CreateFromStream(new DuplexPipeStream(transport), new WebSocketCreationOptions
                    {
                        IsServer = true,
                        KeepAliveInterval = _keepAliveInterval,
                        KeepAliveTimeout = _keepAliveTimeout,
                    }),
                    session,
                    address,
                    activity));
                served = true;
                return;
            }

            var socket = await context.WebSockets.AcceptWebSocketAsync(new WebSocketAcceptContext
            {
                KeepAliveInterval = _keepAliveInterval,
                KeepAliveTimeout = _keepAliveTimeout,
            });
            served = true;
            await ServeAsync(socket, session, address, ConnectionTrace.Start(session, context.Connection.Id));
        }
        finally
        {
            if (!served)
            {
                Release(session, address);
            }
        }
    }

    /// <summary>
    /// The handshake's answer, as ASP.NET Core's WebSocket middleware gives it (RFC 6455 section
    /// 4.2.2): 101 with <c>Sec-WebSocket-Accept</c>, no subprotocol, no extension.
    /// </summary>
    private static async Task AnswerUpgradeAsync(HttpContext context)
    {
        var upgrade = context.Features.GetRequiredFeature<IHttpUpgradeFeature>();
        var headers = context.Response.Headers;
        headers.Connection = "Upgrade";
        headers.Upgrade = "websocket";
        headers.SecWebSocketAccept = AcceptKey(context.Request.Headers.SecWebSocketKey.ToString());
        await upgrade.UpgradeAsync();
    }

    /// <summary>Base64 of the SHA-1 of the client's key and RFC 6455's GUID.</summary>
    internal static string AcceptKey(string key)
    {
        Span<byte> input = stackalloc byte[128];
        var length = System.Text.Encoding.ASCII.GetBytes(key.Trim() + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11", input);
        Span<byte> hash = stackalloc byte[20];
#pragma warning disable CA5350 // SHA-1 is what the protocol names; it protects nothing here
        System.Security.Cryptography.SHA1.HashData(input[..length], hash);
#pragma warning restore CA5350
        return Convert.ToBase64String(hash);
    }

    /// <summary>Serves an accepted WebSocket until it closes, then frees its slot; true when it ended aborted.</summary>
    private async Task<bool> ServeAsync(WebSocket socket, IngestSession session, IPAddress? address, Activity? activity)
    {
        try
        {
            using (socket)
            using (activity)
            {
                metrics.ConnectionOpened();
                var openedAt = sessions.TimeProvider.GetTimestamp();
                Log.ConnectionOpened(logger, session.ConnectionId, address);
                using var connection = new IngestConnection(socket, session, sessions);
                try
                {
                    await connection.RunAsync(shutdown.Draining);
                }
                finally
                {
                    ConnectionTrace.End(activity, session);
                    LogClosed(session, address, openedAt, socket);
                }

                return socket.State == WebSocketState.Aborted;
            }
        }
        finally
        {
            Release(session, address);
            metrics.ConnectionClosed(session.Closed?.Status);
        }
    }

    /// <summary>The slot first, then the count: whoever sees the count drop finds the slot free.</summary>
    private void Release(IngestSession session, IPAddress? address)
    {
        registry.Untrack(session);
        registry.Remove(address);
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
