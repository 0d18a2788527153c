using System.ComponentModel.DataAnnotations;

namespace Ingest.Gateway.Configuration;

/// <summary>
/// Signed tokens (<c>Ingest:Auth:Tokens</c>): JWTs signed with HS256 by a key the gateway shares
/// with the backends that mint them, named by the token's <c>kid</c>; <c>exp</c> is required, and
/// an optional <c>clientId</c> claim limits the connection to that clientId.
/// </summary>
public sealed class TokenOptions
{
    /// <summary>
    /// The signing keys, by id. Several keys let a backend move to a new secret while tokens
    /// signed with the old one are still valid. Defaults to none: tokens are not accepted.
    /// </summary>
    public TokenKeyOptions[] Keys { get; set; } = [];

    /// <summary>The <c>iss</c> a token must carry. Defaults to empty: not checked.</summary>
    public string? Issuer { get; set; }

    /// <summary>The <c>aud</c> a token must carry. Defaults to empty: not checked.</summary>
    public string? Audience { get; set; }

    /// <summary>
    /// How far the minter's clock may be off: a token is accepted this long past its <c>exp</c>
    /// (and before its <c>nbf</c>). Defaults to 30 s, small against lifetimes of minutes and large
    /// against the drift of synchronised clocks.
    /// </summary>
    [Range(0, 600)]
    public int ClockSkewSeconds { get; set; } = 30;
}
