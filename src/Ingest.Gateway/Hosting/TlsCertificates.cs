using Ingest.Gateway.Configuration;

namespace Ingest.Gateway.Hosting;

/// <summary>
/// The certificate files Kestrel is configured with (<c>Kestrel:Certificates:Default</c>,
/// <c>Kestrel:Endpoints:&lt;name&gt;:Certificate</c>) must exist before the server starts: a
/// missing file is a configuration error naming the key (exit 2), not a crash when Kestrel binds.
/// </summary>
internal static class TlsCertificates
{
    public static void Check(IConfiguration configuration)
    {
        var certificates = configuration.GetSection("Kestrel:Endpoints").GetChildren().Select(e => e.GetSection("Certificate"))
            .Append(configuration.GetSection("Kestrel:Certificates:Default"));
        foreach (var certificate in certificates)
        {
            foreach (var key in new[] { "Path", "KeyPath" })
            {
                if (certificate[key] is { Length: > 0 } path && !File.Exists(path))
                {
                    throw new ConfigurationException($"{certificate.Path}:{key}: no file at {path}");
                }
            }
        }
    }
}
