namespace Ingest.Gateway.Configuration;

/// <summary>One token signing key (<c>Ingest:Auth:Tokens:Keys:&lt;n&gt;</c>).</summary>
public sealed class TokenKeyOptions
{
    /// <summary>The smallest secret, in bytes: 256 bits, as RFC 7518 section 3.2 requires for HS256.</summary>
    internal const int MinSecretBytes = 32;

    /// <summary>The key id that a token's <c>kid</c> header names. Required, unique.</summary>
    public string Id { get; set; } = "";

    /// <summary>The HMAC-SHA256 secret, base64, at least 32 bytes once decoded. Required.</summary>
    public string Secret { get; set; } = "";

    /// <summary>The secret's bytes, or null when it is not base64.</summary>
    internal byte[]? SecretBytes()
    {
        var buffer = new byte[Secret.Length];
        return Convert.TryFromBase64String(Secret, buffer, out var written) ? buffer[..written] : null;
    }
}
