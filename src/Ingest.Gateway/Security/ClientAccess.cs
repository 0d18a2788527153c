using System.Security.Cryptography;
using System.Text;
using Ingest.Gateway.Configuration;
using Ingest.Gateway.Diagnostics;
using Microsoft.Extensions.Options;

namespace Ingest.Gateway.Security;

/// <summary>
/// Who may use the client endpoints (<c>/ws</c>, <c>/stream</c>): the API key
/// (<c>Ingest:Auth:ApiKeys</c>) and the browser origin (<c>Ingest:AllowedOrigins</c>), and how a
/// refusal is answered (a status and a JSON body <c>{"error":...,"message":...}</c>).
/// </summary>
internal sealed partial class ClientAccess(IOptions<IngestOptions> options, ILogger<ClientAccess> logger)
{
    private readonly byte[][] _apiKeys = options.Value.Auth.ApiKeys.Select(Encoding.UTF8.GetBytes).ToArray();
    private readonly HashSet<string> _allowedOrigins = new(options.Value.AllowedOrigins.Select(o => o.TrimEnd('/')), StringComparer.OrdinalIgnoreCase);

    /// <summary>
    /// Checks the API key (401) and the origin (403) in that order; a refused request has been
    /// answered when this returns a refusal.
    /// </summary>
    public async Task<Admission> AdmitAsync(HttpContext context)
    {
        if (_apiKeys.Length > 0 && !IsAuthorized(context.Request))
        {
            await RejectAsync(context, StatusCodes.Status401Unauthorized, "unauthorized", "a valid API key is required: Authorization: Bearer <key>, or ?access_token=<key>");
            return Admission.Refused;
        }

        // Requests without Origin come from non-browser clients, which can claim any origin anyway.
        if (_allowedOrigins.Count > 0 && context.Request.Headers.Origin is { Count: > 0 } origin && !_allowedOrigins.Contains(origin.ToString().TrimEnd('/')))
        {
            await RejectAsync(context, StatusCodes.Status403Forbidden, "origin_not_allowed", $"origin {origin} is not allowed");
            return Admission.Refused;
        }

        return new Admission(Admitted: true, ClientId: null);
    }

    /// <summary>Answers a refused request with <paramref name="status"/> and the JSON error body.</summary>
    public async Task RejectAsync(HttpContext context, int status, string code, string message)
    {
        Log.RequestRejected(logger, context.Request.Path.Value, status, code, context.Connection.RemoteIpAddress?.ToString());
        context.Response.StatusCode = status;
        await context.Response.WriteAsJsonAsync(new ClientError(code, message));
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

    /// <summary>Whether a request may use the endpoint, and the only clientId it may send events for (null: any).</summary>
    internal readonly record struct Admission(bool Admitted, string? ClientId)
    {
        public static Admission Refused => default;
    }

    /// <summary>The body of a refusal.</summary>
    internal sealed record ClientError(string Error, string Message);

    private static partial class Log
    {
        [LoggerMessage(EventIds.HandshakeRejected, LogLevel.Information, "Request to {Path} rejected with {Status} {Code} from {RemoteAddress}")]
        public static partial void RequestRejected(ILogger logger, string? path, int status, string code, string? remoteAddress);
    }
}
