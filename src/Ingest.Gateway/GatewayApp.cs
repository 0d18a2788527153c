using Ingest.Gateway.Hosting;

namespace Ingest.Gateway;

/// <summary>Builds the gateway application; used by Program and by the integration tests.</summary>
public static class GatewayApp
{
    /// <param name="args">The command line.</param>
    /// <param name="configure">
    /// Runs before the gateway is added, so that what it adds (configuration, typically) is seen by
    /// everything the gateway reads while it is set up: the logger's sinks and levels, the host's
    /// shutdown timeout, the telemetry exporters.
    /// </param>
    public static WebApplication Build(string[] args, Action<WebApplicationBuilder>? configure = null)
    {
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions
        {
            Args = args,
            ContentRootPath = AppContext.BaseDirectory,
            WebRootPath = Path.Combine(AppContext.BaseDirectory, "wwwroot"),
        });
        configure?.Invoke(builder);
        builder.AddIngestGateway();
        ManagementPort.Listen(builder);
        TlsCertificates.Check(builder.Configuration);
        return builder.Build().MapIngestGateway();
    }
}
