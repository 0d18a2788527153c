using System.ComponentModel.DataAnnotations;

namespace Ingest.Gateway.Configuration;

/// <summary>
/// The management endpoints, <c>/stats</c> (and <c>/metrics</c>), for operators and scrapers
/// rather than pages (<c>Ingest:Management</c>).
/// </summary>
public sealed class ManagementOptions
{
    /// <summary>
    /// A port of their own: Kestrel listens on it too, on the hosts of the main URLs, and the
    /// management endpoints are served there only (404 on the main port); that port serves nothing
    /// else but <c>/healthz</c> and <c>/readyz</c>. Defaults to 0: the main port serves them, as
    /// before.
    /// </summary>
    [Range(0, 65_535)]
    public int Port { get; set; }

    /// <summary>
    /// Whether the management endpoints need an API key or a token (<c>Ingest:Auth</c>), on
    /// whichever port serves them; 401 without one. Defaults to false: totals are not secret, and
    /// scrapers rarely carry credentials.
    /// </summary>
    public bool RequireApiKey { get; set; }
}
