using Ingest.Gateway.Configuration;
using Ingest.Gateway.Diagnostics;
using OpenTelemetry;
using OpenTelemetry.Metrics;
using OpenTelemetry.Trace;

namespace Ingest.Gateway.Hosting;

/// <summary>
/// OpenTelemetry metrics and traces, exported over OTLP when an endpoint is configured
/// (<c>OTEL_EXPORTER_OTLP_ENDPOINT</c>, or <c>Ingest:Telemetry:OtlpEndpoint</c>).
/// </summary>
internal static class GatewayTelemetry
{
    /// <summary>Meters of ASP.NET Core, Kestrel and the runtime exported next to the gateway's own.</summary>
    private static readonly string[] BuiltInMeters =
    [
        "Microsoft.AspNetCore.Hosting",
        "Microsoft.AspNetCore.Server.Kestrel",
        "Microsoft.AspNetCore.Http.Connections",
        "System.Runtime",
    ];

    public static void Add(IHostApplicationBuilder builder)
    {
        var (key, endpoint) = builder.Configuration["Ingest:Telemetry:OtlpEndpoint"] is { Length: > 0 } configured
            ? ("Ingest:Telemetry:OtlpEndpoint", configured)
            : ("OTEL_EXPORTER_OTLP_ENDPOINT", builder.Configuration["OTEL_EXPORTER_OTLP_ENDPOINT"]);
        if (string.IsNullOrWhiteSpace(endpoint))
        {
            return;
        }

        if (!Uri.TryCreate(endpoint, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https"))
        {
            throw new ConfigurationException($"{key}: '{endpoint}' is not an http or https URL");
        }

        builder.Services.AddSingleton(_ => Sdk.CreateMeterProviderBuilder()
            .AddMeter(IngestMetrics.Name)
            .AddMeter(BuiltInMeters)
            .AddOtlpExporter(o => o.Endpoint = uri)
            .Build());
        builder.Services.AddSingleton(_ => Sdk.CreateTracerProviderBuilder()
            .AddSource(IngestMetrics.Name, "Microsoft.AspNetCore")
            .AddOtlpExporter(o => o.Endpoint = uri)
            .Build());
        builder.Services.AddHostedService<TelemetryStarter>();
    }

    /// <summary>Builds the providers at start-up so that they listen from the first request.</summary>
    private sealed class TelemetryStarter(MeterProvider meters, TracerProvider traces) : IHostedService
    {
        public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

        public Task StopAsync(CancellationToken cancellationToken)
        {
            meters.ForceFlush(1_000);
            traces.ForceFlush(1_000);
            return Task.CompletedTask;
        }
    }
}
