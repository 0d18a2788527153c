using System.Globalization;
using System.Runtime.CompilerServices;
using Ingest.Gateway.Configuration;
using Ingest.Gateway.Diagnostics;
using Ingest.Gateway.Security;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;

namespace Ingest.Gateway.Hosting;

/// <summary>
/// OpenTelemetry the standard way (docs/operations.md, "Observability"): metrics always, scraped at
/// <c>GET /metrics</c> and pushed over OTLP when an endpoint is configured; traces only when an
/// OTLP endpoint for them is configured. Everything comes from the standard <c>OTEL_*</c>
/// variables (environment, or any configuration source), which the SDK reads itself; this class
/// only decides which signals are on and checks the values first, so that a bad one stops
/// start-up with one line naming it (exit code 2).
/// </summary>
/// <remarks>
/// With no trace exporter there is no <c>TracerProvider</c> at all: no <c>ActivityListener</c>
/// listens, <see cref="IngestMetrics.ActivitySource"/> has none, no connection or batch activity
/// is made and no record carries a <c>traceparent</c>.
/// </remarks>
internal static class GatewayTelemetry
{
    /// <summary><c>service.name</c> unless <c>OTEL_SERVICE_NAME</c> or <c>OTEL_RESOURCE_ATTRIBUTES</c> names one.</summary>
    public const string ServiceName = "ingest-gateway";

    /// <summary>Requests that are no one's story: probes, scrapes, and the test page's polling of <c>/stats</c>.</summary>
    private static readonly string[] UntracedPaths = ["/healthz", "/readyz", "/metrics", "/stats"];

    public static void Add(IHostApplicationBuilder builder)
    {
        var configuration = builder.Configuration;
        var export = OtlpExport.Read(configuration);
        var telemetry = builder.Services.AddOpenTelemetry()
            .ConfigureResource(resource => Describe(resource, configuration))
            .WithMetrics(metrics =>
            {
                metrics
                    .AddMeter(IngestMetrics.Name)
                    .AddAspNetCoreInstrumentation() // on .NET 8+ the built-in meters: Microsoft.AspNetCore.Hosting, .Server.Kestrel, .Http.Connections, .Routing, .Diagnostics, .RateLimiting
                    .AddRuntimeInstrumentation() // on .NET 9+ the built-in System.Runtime meter
                    .AddPrometheusExporter();
                if (export.Metrics)
                {
                    AddOtlp(metrics);
                }
            });

        if (export.Traces)
        {
            telemetry.WithTracing(AddTracing);
        }
    }

    /// <summary>
    /// Its own method, so that the OTLP exporter's assembly loads only when it is used: the runtime
    /// keeps two file descriptors open for every assembly it loads, out of the reserve the
    /// connections leave (<c>Ingest:Limits:ReservedDescriptors</c>).
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void AddOtlp(MeterProviderBuilder metrics) => metrics.AddOtlpExporter();

    /// <summary>Only with a trace exporter: the gateway's activities, ASP.NET Core's request activities, OTLP.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void AddTracing(TracerProviderBuilder tracing) => tracing
        .AddSource(IngestMetrics.Name)
        .AddAspNetCoreInstrumentation(aspNetCore => aspNetCore.Filter = context => !UntracedPaths.Contains(context.Request.Path.Value, StringComparer.OrdinalIgnoreCase))
        .AddOtlpExporter();

    /// <summary><c>GET /metrics</c>, the Prometheus text format; a management endpoint (port and credential rules of <c>/stats</c>).</summary>
    public static void Map(WebApplication app) =>
        app.MapPrometheusScrapingEndpoint()
            .DisableHttpMetrics()
            .WithMetadata(ManagementEndpoint.Instance);

    private static void Describe(ResourceBuilder resource, IConfiguration configuration)
    {
        var attributes = configuration["OTEL_RESOURCE_ATTRIBUTES"] ?? "";
        if (string.IsNullOrWhiteSpace(configuration["OTEL_SERVICE_NAME"]) && !attributes.Contains("service.name=", StringComparison.Ordinal))
        {
            resource.AddService(ServiceName, autoGenerateServiceInstanceId: false);
        }

        if (!attributes.Contains("service.instance.id=", StringComparison.Ordinal))
        {
            // The same id as the records' ingest-gateway header, so that a record leads to its replica.
            var instance = configuration[$"{IngestOptions.SectionName}:InstanceId"];
            resource.AddAttributes([new("service.instance.id", string.IsNullOrWhiteSpace(instance) ? $"{Environment.MachineName}-{Environment.ProcessId}" : instance)]);
        }
    }

    /// <summary>Which signals go out over OTLP, from the standard variables, checked.</summary>
    internal sealed record OtlpExport(bool Metrics, bool Traces)
    {
        private const string Endpoint = "OTEL_EXPORTER_OTLP_ENDPOINT";
        private static readonly string[] Protocols = ["grpc", "http/protobuf"];
        private static readonly string[] Samplers = ["always_on", "always_off", "traceidratio", "parentbased_always_on", "parentbased_always_off", "parentbased_traceidratio"];

        public static OtlpExport Read(IConfiguration configuration)
        {
            var anyEndpoint = CheckUrl(configuration, Endpoint);
            var metricsEndpoint = CheckUrl(configuration, "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT") || anyEndpoint;
            var tracesEndpoint = CheckUrl(configuration, "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") || anyEndpoint;
            foreach (var key in new[] { "OTEL_EXPORTER_OTLP_PROTOCOL", "OTEL_EXPORTER_OTLP_METRICS_PROTOCOL", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL" })
            {
                CheckOneOf(configuration, key, Protocols);
            }

            var metricsExporter = CheckOneOf(configuration, "OTEL_METRICS_EXPORTER", ["otlp", "none"]);
            var tracesExporter = CheckOneOf(configuration, "OTEL_TRACES_EXPORTER", ["otlp", "none"]);
            var sampler = CheckOneOf(configuration, "OTEL_TRACES_SAMPLER", Samplers);
            if (configuration["OTEL_TRACES_SAMPLER_ARG"] is { Length: > 0 } ratio && sampler is "traceidratio" or "parentbased_traceidratio"
                && (!double.TryParse(ratio, NumberStyles.Float, CultureInfo.InvariantCulture, out var probability) || probability is < 0 or > 1))
            {
                throw new ConfigurationException($"OTEL_TRACES_SAMPLER_ARG: '{ratio}' is not a probability between 0 and 1");
            }

            foreach (var key in new[] { "OTEL_METRIC_EXPORT_INTERVAL", "OTEL_METRIC_EXPORT_TIMEOUT" })
            {
                if (configuration[key] is { Length: > 0 } milliseconds && (!int.TryParse(milliseconds, NumberStyles.None, CultureInfo.InvariantCulture, out var value) || value <= 0))
                {
                    throw new ConfigurationException($"{key}: '{milliseconds}' is not a positive number of milliseconds");
                }
            }

            var disabled = string.Equals(configuration["OTEL_SDK_DISABLED"], "true", StringComparison.OrdinalIgnoreCase);
            return new OtlpExport(
                Metrics: metricsEndpoint && metricsExporter != "none" && !disabled,
                Traces: tracesEndpoint && tracesExporter != "none" && !disabled);
        }

        /// <summary>False when the key is not set; throws when it is set to anything but an absolute http or https URL.</summary>
        private static bool CheckUrl(IConfiguration configuration, string key)
        {
            var value = configuration[key];
            if (string.IsNullOrWhiteSpace(value))
            {
                return false;
            }

            if (!Uri.TryCreate(value.Trim(), UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https") || string.IsNullOrEmpty(uri.Host))
            {
                throw new ConfigurationException($"{key}: '{value}' is not an absolute http or https URL (e.g. http://collector:4318)");
            }

            return true;
        }

        private static string? CheckOneOf(IConfiguration configuration, string key, string[] allowed)
        {
            var value = configuration[key];
            if (string.IsNullOrWhiteSpace(value))
            {
                return null;
            }

            var normalized = value.Trim().ToLowerInvariant();
            return allowed.Contains(normalized, StringComparer.Ordinal)
                ? normalized
                : throw new ConfigurationException($"{key}: '{value}' is not one of {string.Join(", ", allowed)}");
        }
    }
}
