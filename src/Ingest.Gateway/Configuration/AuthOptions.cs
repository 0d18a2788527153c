namespace Ingest.Gateway.Configuration;

/// <summary>Handshake authentication (<c>Ingest:Auth</c>).</summary>
public sealed class AuthOptions
{
    /// <summary>Accepted API keys. Defaults to empty: no authentication.</summary>
    public string[] ApiKeys { get; set; } = [];
}
