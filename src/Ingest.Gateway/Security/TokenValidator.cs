using System.Security.Claims;
using Ingest.Gateway.Configuration;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace Ingest.Gateway.Security;

/// <summary>
/// Checks signed tokens (<c>Ingest:Auth:Tokens</c>): a JWT signed with HS256 by the key its
/// <c>kid</c> names, with an <c>exp</c> not passed (give or take the clock skew), and the issuer
/// and audience when configured. Any other algorithm (<c>none</c>, HS512, RS256, ...), a missing or
/// unknown <c>kid</c>, a missing <c>exp</c> or a <c>clientId</c> claim that is not a non-empty
/// string refuses the token.
/// </summary>
internal sealed class TokenValidator
{
    /// <summary>The claim that limits a connection to one clientId.</summary>
    public const string ClientIdClaim = "clientId";

    /// <summary>Far above any token a page sends, far below what a request line may carry.</summary>
    private const int MaxTokenBytes = 8 * 1024;

    private readonly JsonWebTokenHandler _handler = new() { MaximumTokenSizeInBytes = MaxTokenBytes };
    private readonly Dictionary<string, SecurityKey[]> _keys;
    private readonly TokenValidationParameters _parameters;

    public TokenValidator(TokenOptions options)
    {
        _keys = options.Keys.ToDictionary(
            k => k.Id,
            k => new SecurityKey[] { new SymmetricSecurityKey(k.SecretBytes() ?? throw new ConfigurationException($"Ingest:Auth:Tokens key '{k.Id}': the secret is not base64")) { KeyId = k.Id } },
            StringComparer.Ordinal);
        _parameters = new TokenValidationParameters
        {
            ValidAlgorithms = [SecurityAlgorithms.HmacSha256],
            IssuerSigningKeyResolver = (_, _, kid, _) => kid is not null && _keys.TryGetValue(kid, out var key) ? key : [],
            TryAllIssuerSigningKeys = false,
            RequireSignedTokens = true,
            RequireExpirationTime = true,
            ValidateLifetime = true,
            ClockSkew = TimeSpan.FromSeconds(options.ClockSkewSeconds),
            ValidateIssuer = !string.IsNullOrEmpty(options.Issuer),
            ValidIssuer = options.Issuer,
            ValidateAudience = !string.IsNullOrEmpty(options.Audience),
            ValidAudience = options.Audience,
        };
    }

    /// <summary>Whether any key is configured; without one no token is valid.</summary>
    public bool Enabled => _keys.Count > 0;

    /// <summary>Checks <paramref name="token"/>; never throws for a bad token.</summary>
    public async Task<TokenCheck> ValidateAsync(string token)
    {
        if (!Enabled)
        {
            return TokenCheck.Refused(TokenRefusal.Invalid);
        }

        var result = await _handler.ValidateTokenAsync(token, _parameters);
        if (!result.IsValid)
        {
            return TokenCheck.Refused(result.Exception is SecurityTokenExpiredException ? TokenRefusal.Expired : TokenRefusal.Invalid);
        }

        var jwt = (JsonWebToken)result.SecurityToken;
        if (!jwt.TryGetClaim(ClientIdClaim, out var clientId))
        {
            return new TokenCheck(TokenRefusal.None, ClientId: null);
        }

        return clientId.ValueType == ClaimValueTypes.String && clientId.Value.Length > 0
            ? new TokenCheck(TokenRefusal.None, clientId.Value)
            : TokenCheck.Refused(TokenRefusal.Invalid);
    }
}

/// <summary>Why a token was refused.</summary>
internal enum TokenRefusal
{
    None,
    Invalid,
    Expired,
}

/// <summary>A token's verdict, and the clientId it limits the connection to (null: any).</summary>
internal readonly record struct TokenCheck(TokenRefusal Refusal, string? ClientId)
{
    public bool Valid => Refusal == TokenRefusal.None;

    public static TokenCheck Refused(TokenRefusal refusal) => new(refusal, null);
}
