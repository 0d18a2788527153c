using System.Globalization;
using Ingest.Gateway.Diagnostics;
using Ingest.Gateway.Kafka;
using Ingest.Gateway.Pipeline;
using Ingest.Gateway.Streaming;
using Ingest.Gateway.WebSockets;
using Microsoft.AspNetCore.StaticFiles;
using Microsoft.Extensions.Options;
using OpenTelemetry;
using OpenTelemetry.Metrics;
using OpenTelemetry.Trace;
using Serilog;
using Serilog.Events;

namespace Ingest.Gateway.Hosting;

/// <summary>Wires the gateway into an ASP.NET Core application.</summary>
public static class IngestGatewayExtensions
{
    /// <summary>Meters of ASP.NET Core, Kestrel and the runtime exported next to the gateway's own.</summary>
    private static readonly string[] BuiltInMeters =
    [
        "Microsoft.AspNetCore.Hosting",
        "Microsoft.AspNetCore.Server.Kestrel",
        "Microsoft.AspNetCore.Http.Connections",
        "System.Runtime",
    ];

    /// <summary>Registers options, logging, telemetry, the channel, the producer and the endpoint services.</summary>
    public static IHostApplicationBuilder AddIngestGateway(this IHostApplicationBuilder builder)
    {
        var services = builder.Services;
        services.AddOptions<IngestOptions>()
            .BindConfiguration(IngestOptions.SectionName)
            .ValidateOnStart();
        services.AddSingleton<IValidateOptions<IngestOptions>, IngestOptionsValidator>();
        services.AddSingleton<IValidateOptions<IngestOptions>, IngestOptionsCrossValidator>();
        services.Configure<HostOptions>(host =>
        {
            // Leave room for the drain (flush, final acks, closes) inside the host's own timeout.
            var drain = builder.Configuration.GetValue($"{IngestOptions.SectionName}:Shutdown:TimeoutMs", new ShutdownOptions().TimeoutMs);
            host.ShutdownTimeout = TimeSpan.FromMilliseconds(drain) + TimeSpan.FromSeconds(5);
        });

        AddLogging(builder);
        AddTelemetry(builder);

        services.AddSingleton(TimeProvider.System);
        services.AddSingleton<IngestMetrics>();
        services.AddSingleton<EventChannel>();
        services.AddSingleton<KafkaEndpoint>();
        services.AddSingleton<KafkaHealth>();
        services.AddSingleton<ClientAccess>();
        services.AddSingleton<ConnectionServices>();
        services.AddSingleton<ConnectionRegistry>();
        services.AddSingleton<WebSocketIngestEndpoint>();
        services.AddSingleton<StreamHub>();
        services.AddSingleton<StreamEndpoint>();
        services.AddHostedService<KafkaBatchProducer>();
        services.AddHostedService<KafkaHealthMonitor>();
        // Returns at once when Ingest:Stream:Enabled is false; else reads Kafka only while someone subscribes.
        services.AddHostedService<StreamConsumer>();
        services.AddHostedService<DevEnvironmentPublisher>();
        return builder;
    }

    /// <summary>Maps <c>/ws</c>, <c>/stream</c> (unless disabled), <c>/healthz</c>, <c>/readyz</c>, <c>/stats</c> and the test page.</summary>
    public static WebApplication MapIngestGateway(this WebApplication app)
    {
        app.UseWebSockets();
        app.UseDefaultFiles();
        app.UseStaticFiles(new StaticFileOptions { OnPrepareResponse = ClientScriptHeaders(app.Services.GetRequiredService<IOptions<IngestOptions>>().Value) });

        app.Map("/ws", (HttpContext context, WebSocketIngestEndpoint endpoint) => endpoint.HandleAsync(context));
        if (app.Services.GetRequiredService<IOptions<IngestOptions>>().Value.Stream.Enabled)
        {
            app.MapGet("/stream", (HttpContext context, StreamEndpoint endpoint) => endpoint.HandleAsync(context));
        }

        app.MapGet("/healthz", () => Results.Json(new { status = "live" }));
        app.MapGet("/readyz", (KafkaHealth kafka, EventChannel channel, ConnectionRegistry registry) =>
        {
            if (registry.IsDraining)
            {
                return Results.Json(new { status = "draining", reason = "the gateway is shutting down" }, statusCode: 503);
            }

            if (!kafka.IsReachable)
            {
                return Results.Json(new { status = "kafka_unreachable", reason = kafka.UnreachableReason }, statusCode: 503);
            }

            if (channel.IsSaturated)
            {
                return Results.Json(new { status = "channel_saturated", reason = $"the ingest channel is full ({channel.Count} of {channel.Capacity})" }, statusCode: 503);
            }

            return Results.Json(new { status = "ready" });
        });
        app.MapGet("/stats", (IngestMetrics metrics, EventChannel channel) => Results.Json(metrics.Snapshot(channel.Count, channel.Capacity)));

        // Start the embedded broker (when configured) with the host, not at the first request.
        _ = app.Services.GetRequiredService<KafkaEndpoint>();
        return app;
    }

    /// <summary>
    /// Headers for <c>/ingest.js</c>, which pages on other origins load. A classic
    /// <c>&lt;script src&gt;</c> needs no CORS, but <c>type="module"</c> and <c>crossorigin</c>
    /// loads do: allow the origins that may open <c>/ws</c> (any, when none are configured).
    /// <c>no-cache</c> makes browsers revalidate (ETag) so that a new gateway's client is picked up.
    /// </summary>
    private static Action<StaticFileResponseContext> ClientScriptHeaders(IngestOptions options)
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

    private static void AddLogging(IHostApplicationBuilder builder)
    {
        var logger = new LoggerConfiguration()
            .MinimumLevel.Information()
            .MinimumLevel.Override("Microsoft.AspNetCore", LogEventLevel.Warning)
            .MinimumLevel.Override("Microsoft.Hosting.Lifetime", LogEventLevel.Information)
            .ReadFrom.Configuration(builder.Configuration)
            .Enrich.FromLogContext()
            .WriteTo.Console(
                outputTemplate: "[{Timestamp:HH:mm:ss.fff} {Level:u3}] {SourceContext}: {Message:lj}{NewLine}{Exception}",
                formatProvider: CultureInfo.InvariantCulture)
            .CreateLogger();
        builder.Logging.ClearProviders();
        builder.Logging.AddSerilog(logger, dispose: true);
    }

    /// <summary>
    /// OpenTelemetry metrics and traces, exported over OTLP when an endpoint is configured
    /// (<c>OTEL_EXPORTER_OTLP_ENDPOINT</c>, or <c>Ingest:Telemetry:OtlpEndpoint</c>).
    /// </summary>
    private static void AddTelemetry(IHostApplicationBuilder builder)
    {
        var endpoint = builder.Configuration["Ingest:Telemetry:OtlpEndpoint"] ?? builder.Configuration["OTEL_EXPORTER_OTLP_ENDPOINT"];
        if (string.IsNullOrWhiteSpace(endpoint))
        {
            return;
        }

        var uri = new Uri(endpoint);
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
