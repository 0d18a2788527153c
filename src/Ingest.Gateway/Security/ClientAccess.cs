using System.Security.Cryptography;
using System.Text;
using Ingest.Gateway.Configuration;
using Ingest.Gateway.Diagnostics;
using Microsoft.Extensions.Options;

namespace Ingest.Gateway.Security;

/// <summary>
/// Who may use the client endpoints (<c>/ws</c>, <c>/stream</c>): an API key
/// (<c>Ingest:Auth:ApiKeys</c>) or a signed token (<c>Ingest:Auth:Tokens</c>), and the browser
/// origin (<c>Ingest:AllowedOrigins</c>), and how a refusal is answered (a status and a JSON body
/// <c>{"error":...,"message":...}</c>). Neither the credential nor any part of it is ever logged.
/// </summary>
internal sealed partial class ClientAccess
{
    private readonly bool _authRequired;
    private readonly byte[][] _apiKeyHashes;
    private readonly TokenValidator _tokens;
    private readonly HashSet<string> _allowedOrigins;
    private readonly ILogger<ClientAccess> _logger;

    public ClientAccess(IOptions<IngestOptions> options, ILogger<ClientAccess> logger)
    {
        var auth = options.Value.Auth;
        _authRequired = auth.Required;
        _apiKeyHashes = auth.ApiKeys.Select(key => SHA256.HashData(Encoding.UTF8.GetBytes(key))).ToArray();
        _tokens = new TokenValidator(auth.Tokens);
        _allowedOrigins = new(options.Value.AllowedOrigins.Select(o => o.TrimEnd('/')), StringComparer.OrdinalIgnoreCase);
        _logger = logger;
    }

    /// <summary>
    /// Checks the API key or token (401) and the origin (403) in that order; a refused request has
    /// been answered when this returns a refusal. A token's <c>clientId</c> claim becomes the
    /// admission's <see cref="Admission.ClientId"/>.
    /// </summary>
    public async Task<Admission> AdmitAsync(HttpContext context)
    {
        string? clientId = null;
        if (_authRequired)
        {
            var credential = await CheckCredentialAsync(context.Request);
            if (credential.Verdict != Verdict.Valid)
            {
                await RefuseUnauthenticatedAsync(context, credential.Verdict);
                return Admission.Refused;
            }

            clientId = credential.ClientId;
        }

        // Requests without Origin come from non-browser clients, which can claim any origin anyway.
        if (_allowedOrigins.Count > 0 && context.Request.Headers.Origin is { Count: > 0 } origin && !_allowedOrigins.Contains(origin.ToString().TrimEnd('/')))
        {
            await RejectAsync(context, StatusCodes.Status403Forbidden, "origin_not_allowed", $"origin {origin} is not allowed");
            return Admission.Refused;
        }

        return new Admission(Admitted: true, clientId);
    }

    /// <summary>
    /// For endpoints that need a credential and know no origins (the management endpoints): true
    /// for a valid API key or token; otherwise the request has been answered with 401.
    /// </summary>
    public async Task<bool> AuthenticateAsync(HttpContext context)
    {
        var credential = await CheckCredentialAsync(context.Request);
        if (credential.Verdict == Verdict.Valid)
        {
            return true;
        }

        await RefuseUnauthenticatedAsync(context, credential.Verdict);
        return false;
    }

    /// <summary>Answers a refused request with <paramref name="status"/> and the JSON error body.</summary>
    public async Task RejectAsync(HttpContext context, int status, string code, string message)
    {
        Log.RequestRejected(_logger, context.Request.Path.Value, status, code, context.Connection.RemoteIpAddress?.ToString());
        context.Response.StatusCode = status;
        await context.Response.WriteAsJsonAsync(new ClientError(code, message));
    }

    private Task RefuseUnauthenticatedAsync(HttpContext context, Verdict verdict)
    {
        Log.CredentialRefused(_logger, context.Request.Path.Value, verdict);
        // RFC 6750 section 3: the scheme, and invalid_token when a credential was presented.
        context.Response.Headers.WWWAuthenticate = verdict == Verdict.Missing ? "Bearer" : "Bearer error=\"invalid_token\"";
        return RejectAsync(context, StatusCodes.Status401Unauthorized, "unauthorized", verdict switch
        {
            Verdict.Missing => "an API key or token is required: Authorization: Bearer <key or token>, or ?access_token=<key or token>",
            Verdict.Expired => "the token has expired: get a new one",
            _ => "the API key or token is not valid",
        });
    }

    private async ValueTask<Credential> CheckCredentialAsync(HttpRequest request)
    {
        var presented = Presented(request);
        if (string.IsNullOrEmpty(presented))
        {
            return new Credential(Verdict.Missing, null);
        }

        if (IsApiKey(presented))
        {
            return new Credential(Verdict.Valid, null);
        }

        if (!_tokens.Enabled)
        {
            return new Credential(Verdict.Invalid, null);
        }

        var token = await _tokens.ValidateAsync(presented);
        return token.Refusal switch
        {
            TokenRefusal.None => new Credential(Verdict.Valid, token.ClientId),
            TokenRefusal.Expired => new Credential(Verdict.Expired, null),
            _ => new Credential(Verdict.Invalid, null),
        };
    }

    private static string? Presented(HttpRequest request)
    {
        var authorization = request.Headers.Authorization.ToString();
        if (authorization.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase))
        {
            return authorization["Bearer ".Length..].Trim();
        }

        return request.Query.TryGetValue("access_token", out var token) ? token.ToString() : null;
    }

    /// <summary>
    /// Compares SHA-256 hashes, of equal length whatever the keys' lengths, in constant time, with
    /// every configured key and no early exit: the time taken reveals neither a key nor its length.
    /// </summary>
    private bool IsApiKey(string presented)
    {
        Span<byte> hash = stackalloc byte[SHA256.HashSizeInBytes];
        SHA256.HashData(Encoding.UTF8.GetBytes(presented), hash);
        var match = false;
        foreach (var accepted in _apiKeyHashes)
        {
            match |= CryptographicOperations.FixedTimeEquals(hash, accepted);
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

    private enum Verdict
    {
        Valid,
        Missing,
        Invalid,
        Expired,
    }

    private readonly record struct Credential(Verdict Verdict, string? ClientId);

    private static partial class Log
    {
        [LoggerMessage(EventIds.HandshakeRejected, LogLevel.Information, "Request to {Path} rejected with {Status} {Code} from {RemoteAddress}")]
        public static partial void RequestRejected(ILogger logger, string? path, int status, string code, string? remoteAddress);

        [LoggerMessage(EventIds.CredentialRefused, LogLevel.Debug, "Request to {Path}: credential {Verdict}")]
        public static partial void CredentialRefused(ILogger logger, string? path, Verdict verdict);
    }
}
