using Ingest.Gateway.Hosting;

namespace Ingest.Gateway;

/// <summary>Builds the gateway application; used by Program and by the integration tests.</summary>
public static class GatewayApp
{
    public static WebApplication Build(string[] args, Action<WebApplicationBuilder>? configure = null)
    {
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions
        {
            Args = args,
            ContentRootPath = AppContext.BaseDirectory,
            WebRootPath = Path.Combine(AppContext.BaseDirectory, "wwwroot"),
        });
        builder.AddIngestGateway();
        configure?.Invoke(builder);
        ManagementPort.Listen(builder);
        TlsCertificates.Check(builder.Configuration);
        return builder.Build().MapIngestGateway();
    }
}
