using Ingest.Gateway.Configuration;
using Microsoft.Extensions.Options;

namespace Ingest.Gateway.Security;

/// <summary>
/// Where and for whom the management endpoints (<c>/stats</c>, and <c>/metrics</c> when mapped)
/// are served (<c>Ingest:Management</c>). With a management port they answer there only (404 on
/// the main port), and that port answers nothing but them and the probes (<c>/healthz</c>,
/// <c>/readyz</c>); with <c>RequireApiKey</c> they need an API key or a token wherever they are
/// served. The port is the connection's local port, never the <c>Host</c> header, which a client
/// could set to anything.
/// </summary>
internal sealed class ManagementAccess(IOptions<IngestOptions> options, ClientAccess access)
{
    private readonly int _port = options.Value.Management.Port;
    private readonly bool _requireCredential = options.Value.Management.RequireApiKey;

    /// <summary>Whether anything is checked at all; with the defaults the middleware is left out.</summary>
    public bool Enabled => _port != 0 || _requireCredential;

    /// <summary>The middleware; runs after routing, so the endpoint's metadata is known.</summary>
    public async Task InvokeAsync(HttpContext context, RequestDelegate next)
    {
        var metadata = context.GetEndpoint()?.Metadata;
        var management = metadata?.GetMetadata<ManagementEndpoint>() is not null;
        if (_port != 0)
        {
            var onManagementPort = context.Connection.LocalPort == _port;
            var allowed = onManagementPort ? management || metadata?.GetMetadata<ProbeEndpoint>() is not null : !management;
            if (!allowed)
            {
                context.Response.StatusCode = StatusCodes.Status404NotFound;
                return;
            }
        }

        if (management && _requireCredential && !await access.AuthenticateAsync(context))
        {
            return;
        }

        await next(context);
    }
}

/// <summary>Marks an endpoint for operators rather than pages (<c>/stats</c>, <c>/metrics</c>): see <see cref="ManagementAccess"/>.</summary>
internal sealed class ManagementEndpoint
{
    public static readonly ManagementEndpoint Instance = new();
}

/// <summary>Marks a probe (<c>/healthz</c>, <c>/readyz</c>): open on every port, with no credential.</summary>
internal sealed class ProbeEndpoint
{
    public static readonly ProbeEndpoint Instance = new();
}
