using Ingest.Testing;
using Microsoft.Extensions.Logging;

namespace Ingest.IntegrationTests.Hosting;

/// <summary>
/// ASP.NET Core's request logging category is off unless its request logs are written: with it on,
/// every request, each WebSocket included, holds an Activity and a log scope for its whole life.
/// </summary>
public sealed class RequestLoggingTests
{
    private const string HostingDiagnostics = "Microsoft.AspNetCore.Hosting.Diagnostics";

    [Fact]
    public async Task ByDefault_RequestLoggingCategoryIsOff_OtherAspNetCoreWarningsStillOn()
    {
        await using var gateway = await TestGateway.StartAsync();
        var loggers = gateway.GetService<ILoggerFactory>();

        Assert.False(loggers.CreateLogger(HostingDiagnostics).IsEnabled(LogLevel.Critical));
        Assert.True(loggers.CreateLogger("Microsoft.AspNetCore.Server.Kestrel").IsEnabled(LogLevel.Warning));
        Assert.True(loggers.CreateLogger("Microsoft.AspNetCore.Hosting.Lifetime").IsEnabled(LogLevel.Warning));
    }

    [Fact]
    public async Task ConfiguredToWriteRequestLogs_CategoryIsOn()
    {
        // The level of Microsoft.AspNetCore comes from appsettings.json, and stays live from configuration.
        await using var gateway = await TestGateway.StartAsync(new Dictionary<string, string?> { ["Serilog:MinimumLevel:Override:Microsoft.AspNetCore"] = "Information" });

        Assert.True(gateway.GetService<ILoggerFactory>().CreateLogger(HostingDiagnostics).IsEnabled(LogLevel.Information));
    }
}
