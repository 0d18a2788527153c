using Ingest.Gateway.Configuration;

namespace Ingest.Gateway.Hosting;

/// <summary>
/// Makes Kestrel listen on <c>Ingest:Management:Port</c> besides the main addresses: for each
/// scheme and host of the main URLs (<c>--urls</c>, <c>ASPNETCORE_URLS</c>, <c>HTTP_PORTS</c>) or
/// of <c>Kestrel:Endpoints</c>, the same with the management port (an endpoint's certificate
/// settings come along). Runs on the finished configuration, before the application is built.
/// </summary>
internal static class ManagementPort
{
    private const string PortKey = $"{IngestOptions.SectionName}:Management:Port";
    private const string EndpointsSection = "Kestrel:Endpoints";

    public static void Listen(WebApplicationBuilder builder)
    {
        var configuration = builder.Configuration;
        var port = ConfigurationBinding.GetValue(configuration, PortKey, 0);
        if (port is <= 0 or > 65_535)
        {
            return; // 0: the main port serves the management endpoints; out of range: validation names the key
        }

        var endpoints = configuration.GetSection(EndpointsSection).GetChildren().Where(e => !string.IsNullOrEmpty(e["Url"])).ToList();
        if (endpoints.Count > 0)
        {
            // Kestrel:Endpoints replace the URLs altogether, so the management endpoint is one of them.
            var added = new Dictionary<string, string?>();
            var urls = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
            foreach (var endpoint in endpoints)
            {
                if (WithPort(endpoint["Url"]!, port) is not { } url || !urls.Add(url))
                {
                    continue;
                }

                var name = $"{EndpointsSection}:{endpoint.Key}Management";
                foreach (var (key, value) in endpoint.AsEnumerable(makePathsRelative: true))
                {
                    added[$"{name}:{key}"] = value;
                }

                added[$"{name}:Url"] = url;
            }

            configuration.AddInMemoryCollection(added);
            return;
        }

        var main = MainUrls(configuration);
        var management = main.Select(url => WithPort(url, port)).OfType<string>().Distinct(StringComparer.OrdinalIgnoreCase);
        builder.WebHost.UseUrls([.. main, .. management]);
    }

    /// <summary>The URLs ASP.NET Core would listen on: <c>urls</c>, else <c>http_ports</c>/<c>https_ports</c>, else its default.</summary>
    private static string[] MainUrls(ConfigurationManager configuration)
    {
        const StringSplitOptions Split = StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries;
        var urls = (configuration[WebHostDefaults.ServerUrlsKey] ?? "").Split(';', Split);
        if (urls.Length > 0)
        {
            return urls;
        }

        urls =
        [
            .. (configuration[WebHostDefaults.HttpPortsKey] ?? "").Split(';', Split).Select(p => $"http://*:{p}"),
            .. (configuration[WebHostDefaults.HttpsPortsKey] ?? "").Split(';', Split).Select(p => $"https://*:{p}"),
        ];
        return urls.Length > 0 ? urls : ["http://localhost:5000"];
    }

    /// <summary><paramref name="url"/>'s scheme and host with <paramref name="port"/>; null for a Unix socket or a named pipe.</summary>
    private static string? WithPort(string url, int port)
    {
        var address = BindingAddress.Parse(url);
        if (address.IsUnixPipe || address.IsNamedPipe)
        {
            return null;
        }

        if (address.Port == port)
        {
            throw new ConfigurationException($"{PortKey}: {port} is the port of {url} already; give the management endpoints a port of their own, or 0 to serve them on the main port");
        }

        return $"{address.Scheme}://{address.Host}:{port}";
    }
}
