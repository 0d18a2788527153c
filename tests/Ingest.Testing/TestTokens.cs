using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace Ingest.Testing;

/// <summary>
/// Signed tokens minted by hand, the way any backend in any language does: base64url JSON header
/// and payload, and an HMAC over them. Nothing of the gateway's token library is used, so a token
/// minted here is what docs/operations.md tells a backend to mint.
/// </summary>
internal static class TestTokens
{
    /// <summary>A fresh random secret of 32 bytes, and its base64 for <c>Ingest:Auth:Tokens:Keys:n:Secret</c>.</summary>
    public static (byte[] Secret, string Base64) NewSecret()
    {
        var secret = RandomNumberGenerator.GetBytes(32);
        return (secret, Convert.ToBase64String(secret));
    }

    /// <summary>
    /// A token signed with <paramref name="secret"/>: header <c>{"alg":..,"kid":..,"typ":"JWT"}</c>,
    /// payload <c>exp</c> (Unix seconds; none when null), and <c>clientId</c> when given. With
    /// <c>alg</c> <c>none</c> the signature is empty; <c>HS512</c> signs with HMAC-SHA512.
    /// </summary>
    public static string Mint(string? kid, byte[] secret, DateTimeOffset? expires, string? clientId = null, string alg = "HS256")
    {
        var header = new Dictionary<string, object> { ["alg"] = alg, ["typ"] = "JWT" };
        if (kid is not null)
        {
            header["kid"] = kid;
        }

        var payload = new Dictionary<string, object> { ["iat"] = DateTimeOffset.UtcNow.ToUnixTimeSeconds() };
        if (expires is { } exp)
        {
            payload["exp"] = exp.ToUnixTimeSeconds();
        }

        if (clientId is not null)
        {
            payload["clientId"] = clientId;
        }

        var signingInput = $"{Base64Url(JsonSerializer.SerializeToUtf8Bytes(header))}.{Base64Url(JsonSerializer.SerializeToUtf8Bytes(payload))}";
        var data = Encoding.ASCII.GetBytes(signingInput);
        var signature = alg switch
        {
            "none" => [],
            "HS512" => HMACSHA512.HashData(secret, data),
            _ => HMACSHA256.HashData(secret, data),
        };
        return $"{signingInput}.{Base64Url(signature)}";
    }

    private static string Base64Url(byte[] bytes) => Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');
}
