using Ingest.Gateway.Configuration;
using Microsoft.AspNetCore.HttpOverrides;

namespace Ingest.Gateway.Limits;

/// <summary>
/// The client address behind a proxy: <c>X-Forwarded-For</c> is believed only from the proxies in
/// <c>Ingest:Limits:TrustedProxies</c> (ASP.NET Core's own defaults, loopback, are dropped). With
/// none configured the header is ignored: any client could name any address in it, and the
/// per-address limit would mean nothing.
/// </summary>
internal static class TrustedProxies
{
    public static void Use(WebApplication app, IReadOnlyList<string> proxies)
    {
        if (proxies.Count == 0)
        {
            return;
        }

        var options = new ForwardedHeadersOptions { ForwardedHeaders = ForwardedHeaders.XForwardedFor };
        options.KnownIPNetworks.Clear();
        options.KnownProxies.Clear();
        foreach (var proxy in proxies)
        {
            if (NetworkRange.TryParse(proxy, out var network))
            {
                options.KnownIPNetworks.Add(network);
            }
        }

        app.UseForwardedHeaders(options);
    }
}
