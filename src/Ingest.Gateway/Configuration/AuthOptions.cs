using Microsoft.Extensions.Options;

namespace Ingest.Gateway.Configuration;

/// <summary>
/// Who may use <c>/ws</c> and <c>/stream</c> (<c>Ingest:Auth</c>): API keys, signed tokens, or
/// either. With neither configured there is no authentication.
/// </summary>
public sealed class AuthOptions
{
    /// <summary>Accepted API keys. Defaults to empty: no API key is accepted.</summary>
    public string[] ApiKeys { get; set; } = [];

    /// <summary>
    /// HS256 tokens (JWT) that a page gets from its own backend. Defaults to no keys: no token is
    /// accepted.
    /// </summary>
    [ValidateObjectMembers]
    public TokenOptions Tokens { get; set; } = new();

    /// <summary>Whether any credential is configured, and so required.</summary>
    internal bool Required => ApiKeys.Length > 0 || Tokens.Keys.Length > 0;
}
