using Ingest.Gateway.Configuration;
using Microsoft.AspNetCore.StaticFiles;

namespace Ingest.Gateway.Hosting;

/// <summary>
/// Headers for <c>/ingest.js</c>, which pages on other origins load. A classic
/// <c>&lt;script src&gt;</c> needs no CORS, but <c>type="module"</c> and <c>crossorigin</c>
/// loads do: allow the origins that may open <c>/ws</c> (any, when none are configured).
/// <c>no-cache</c> makes browsers revalidate (ETag) so that a new gateway's client is picked up.
/// </summary>
internal static class ClientScriptHeaders
{
    public static Action<StaticFileResponseContext> For(IngestOptions options)
    {
        var allowed = new HashSet<string>(options.AllowedOrigins.Select(o => o.TrimEnd('/')), StringComparer.OrdinalIgnoreCase);
        return context =>
        {
            if (!context.Context.Request.Path.Equals("/ingest.js", StringComparison.OrdinalIgnoreCase))
            {
                return;
            }

            var headers = context.Context.Response.Headers;
            headers.CacheControl = "no-cache";
            if (allowed.Count == 0)
            {
                headers.AccessControlAllowOrigin = "*";
                return;
            }

            headers.Vary = "Origin";
            var origin = context.Context.Request.Headers.Origin.ToString();
            if (origin.Length > 0 && allowed.Contains(origin.TrimEnd('/')))
            {
                headers.AccessControlAllowOrigin = origin;
            }
        };
    }
}
