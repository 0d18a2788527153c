using Ingest.Gateway.Configuration;
using Ingest.Gateway.Hosting;
using Microsoft.AspNetCore.Builder;

namespace Ingest.UnitTests.Hosting;

/// <summary>What Kestrel is told to listen on for <c>Ingest:Management:Port</c>.</summary>
public sealed class ManagementPortTests
{
    private static WebApplicationBuilder Builder(params string[] args) => WebApplication.CreateBuilder(args);

    [Fact]
    public void Port_AddsTheSameSchemeAndHostsWithThatPort_ToTheUrls()
    {
        var builder = Builder("--urls", "http://127.0.0.1:5080;http://[::1]:5080", "--Ingest:Management:Port=9090");

        ManagementPort.Listen(builder);

        Assert.Equal("http://127.0.0.1:5080;http://[::1]:5080;http://127.0.0.1:9090;http://[::1]:9090", builder.Configuration["urls"]);
    }

    [Fact]
    public void NoPort_LeavesTheUrlsAlone()
    {
        var builder = Builder("--urls", "http://127.0.0.1:5080");

        ManagementPort.Listen(builder);

        Assert.Equal("http://127.0.0.1:5080", builder.Configuration["urls"]);
    }

    [Fact]
    public void KestrelEndpoints_GetAManagementEndpoint_WithTheirCertificate()
    {
        var builder = Builder(
            "--Kestrel:Endpoints:Https:Url=https://0.0.0.0:443",
            "--Kestrel:Endpoints:Https:Certificate:Path=/etc/tls/tls.crt",
            "--Kestrel:Endpoints:Https:Certificate:KeyPath=/etc/tls/tls.key",
            "--Ingest:Management:Port=9443");

        ManagementPort.Listen(builder);

        var added = builder.Configuration.GetSection("Kestrel:Endpoints:HttpsManagement");
        Assert.Equal("https://0.0.0.0:9443", added["Url"]);
        Assert.Equal("/etc/tls/tls.crt", added["Certificate:Path"]);
        Assert.Equal("/etc/tls/tls.key", added["Certificate:KeyPath"]);
        Assert.Equal("https://0.0.0.0:443", builder.Configuration["Kestrel:Endpoints:Https:Url"]);
    }

    [Fact]
    public void PortOfTheMainUrl_IsAConfigurationError_NamingTheKey()
    {
        var builder = Builder("--urls", "http://127.0.0.1:5080", "--Ingest:Management:Port=5080");

        var error = Assert.Throws<ConfigurationException>(() => ManagementPort.Listen(builder));

        Assert.StartsWith("Ingest:Management:Port: ", error.Message, StringComparison.Ordinal);
    }
}
