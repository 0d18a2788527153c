using Ingest.Gateway.Configuration;
using Ingest.Gateway.Diagnostics;
using Ingest.Gateway.Kafka;
using Ingest.Gateway.Lifecycle;
using Ingest.Gateway.Limits;
using Ingest.Gateway.Pipeline;
using Ingest.Gateway.Security;
using Ingest.Gateway.Sessions;
using Ingest.Gateway.Streaming;
using Ingest.Gateway.WebSockets;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.AspNetCore.Server.Kestrel.Transport.Sockets;
using Microsoft.Extensions.Options;

namespace Ingest.Gateway.Hosting;

/// <summary>Wires the gateway into an ASP.NET Core application.</summary>
public static class IngestGatewayExtensions
{
    /// <summary>Registers options, logging, telemetry, health checks and the gateway's services.</summary>
    public static IHostApplicationBuilder AddIngestGateway(this IHostApplicationBuilder builder)
    {
        var services = builder.Services;
        AddOptions(builder);
        GatewayLogging.Add(builder);
        GatewayTelemetry.Add(builder);

        services.AddSingleton(TimeProvider.System);
        services.AddSingleton<IngestMetrics>();
        services.AddSingleton<ShutdownBudget>();
        AddLimits(services);

        // Start-up steps, in order (StartingAsync): checks, then the embedded broker before anything needs it.
        services.AddHostedService<StartupChecks>();
        services.AddHostedService<EmbeddedKafkaService>();

        AddKafka(services);
        AddConnections(services);
        AddStream(services);
        services.AddHostedService<DevEnvironmentPublisher>();

        services.AddHealthChecks()
            .AddCheck<DrainingHealthCheck>(HealthEndpoints.Draining, tags: [HealthEndpoints.ReadyTag])
            .AddCheck<KafkaHealthCheck>(HealthEndpoints.Kafka, tags: [HealthEndpoints.ReadyTag])
            .AddCheck<ChannelHealthCheck>(HealthEndpoints.Channel, tags: [HealthEndpoints.ReadyTag]);
        return builder;
    }

    /// <summary>
    /// Maps <c>/ws</c>, <c>/stream</c> (unless disabled), <c>/healthz</c>, <c>/readyz</c>, <c>/stats</c>
    /// and <c>/metrics</c> (on the management port when there is one) and the test page.
    /// </summary>
    public static WebApplication MapIngestGateway(this WebApplication app)
    {
        var options = app.Services.GetRequiredService<IOptions<IngestOptions>>().Value;
        TrustedProxies.Use(app, options.Limits.TrustedProxies);
        GatewayLogging.UseRequestLogging(app);
        if (app.Services.GetRequiredService<ManagementAccess>() is { Enabled: true } management)
        {
            app.Use(management.InvokeAsync);
        }

        app.UseWebSockets();
        app.UseDefaultFiles();
        app.UseStaticFiles(new Microsoft.AspNetCore.Builder.StaticFileOptions { OnPrepareResponse = ClientScriptHeaders.For(options) });

        // A plain request delegate over the singleton (resolved on first use, after start-up checks):
        // a handler with a service parameter would open a DI scope per request, which a WebSocket
        // request keeps for its whole life.
        var services = app.Services;
        WebSocketIngestEndpoint? webSockets = null;
        app.Map("/ws", context => (webSockets ??= services.GetRequiredService<WebSocketIngestEndpoint>()).HandleAsync(context));
        if (options.Stream.Enabled)
        {
            app.MapGet("/stream", (HttpContext context, StreamEndpoint endpoint) => endpoint.HandleAsync(context));
        }

        HealthEndpoints.Map(app);
        app.MapGet("/stats", (IngestMetrics metrics, EventChannel channel) => Results.Json(metrics.Snapshot(channel.Count, channel.Capacity), Contracts.GatewayStats.JsonOptions))
            .WithMetadata(ManagementEndpoint.Instance);
        GatewayTelemetry.Map(app);
        return app;
    }

    private static void AddOptions(IHostApplicationBuilder builder)
    {
        var services = builder.Services;
        services.AddOptions<IngestOptions>()
            .Configure<IConfiguration>((options, configuration) => ConfigurationBinding.Bind(configuration.GetSection(IngestOptions.SectionName), options))
            .ValidateOnStart();
        services.AddSingleton<IValidateOptions<IngestOptions>, IngestOptionsValidator>();
        services.AddSingleton<IValidateOptions<IngestOptions>, IngestOptionsCrossValidator>();
        services.AddSingleton<IValidateOptions<IngestOptions>, AuthOptionsValidator>();

        // The host's timeout follows the one shutdown budget, so that the gateway's own deadlines end every step.
        var budget = ConfigurationBinding.GetValue(builder.Configuration, $"{IngestOptions.SectionName}:Shutdown:TimeoutMs", new ShutdownOptions().TimeoutMs);
        services.Configure<HostOptions>(host => host.ShutdownTimeout = ShutdownBudget.HostTimeout(TimeSpan.FromMilliseconds(budget)));
    }

    /// <summary>
    /// Whether the runtime completes socket operations on its socket threads, as the process
    /// environment set it at start (<c>DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS=1</c>; the runtime
    /// reads it once, so the gateway does too).
    /// </summary>
    internal static bool InlineSocketCompletions { get; } = Environment.GetEnvironmentVariable("DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS") == "1";

    /// <summary>What the process, an address, a connection and all connections together may hold.</summary>
    private static void AddLimits(IServiceCollection services)
    {
        services.AddSingleton(provider => ConnectionLimits.For(provider.GetRequiredService<IOptions<IngestOptions>>().Value, ConnectionLimits.ProcessDescriptorLimit()));
        services.AddOptions<KestrelServerOptions>().Configure<ConnectionLimits, IOptions<IngestOptions>>((kestrel, limits, options) =>
        {
            kestrel.Limits.MaxConcurrentConnections = limits.Http;
            kestrel.Limits.MaxConcurrentUpgradedConnections = limits.WebSockets + ConnectionLimits.UpgradeMargin;
            var handshake = TimeSpan.FromMilliseconds(options.Value.Limits.HandshakeTimeoutMs);
            kestrel.Limits.RequestHeadersTimeout = handshake;
            kestrel.Limits.KeepAliveTimeout = handshake;
            kestrel.Limits.MaxRequestBufferSize = options.Value.Limits.ConnectionBufferBytes;
            // Lets /ws run its WebSockets without their HTTP/1.1 request state (ConnectionTakeover).
            kestrel.ConfigureEndpointDefaults(listen => listen.Use(next => connection => ConnectionTakeover.InvokeAsync(connection, next)));
        });
        // The socket transport reads ahead into its own pipe (1 MiB by default) whatever Kestrel's
        // limits say: bound it too, or a connection that is not read still parks that much.
        // Kestrel runs the connections' code on the socket threads when the runtime completes socket
        // operations there (DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS=1, set by deploy/gateway.env):
        // no thread-pool hop per read, about a sixth less CPU per event (docs/benchmarks.md). Nothing
        // on a connection's path blocks a thread: the producer and the /stream consumer have their own.
        services.AddOptions<SocketTransportOptions>().Configure<IOptions<IngestOptions>>((transport, options) =>
        {
            transport.MaxReadBufferSize = options.Value.Limits.ConnectionBufferBytes;
            transport.UnsafePreferInlineScheduling = InlineSocketCompletions;
        });
        services.AddSingleton<ReassemblyBudget>();
        services.AddSingleton<QueueBudget>();
        services.AddHostedService<MemoryTrimmer>();
        services.AddSingleton<EventRateLimiter>();
    }

    private static void AddKafka(IServiceCollection services)
    {
        services.AddSingleton<KafkaEndpoint>();
        services.AddSingleton<KafkaClientConfigs>();
        services.AddSingleton<KafkaHealth>();
        services.AddSingleton<RecordFactory>();
        services.AddSingleton<KafkaStatistics>();
        services.AddSingleton<EventChannel>();
        services.AddHostedService<KafkaBatchProducer>();
        services.AddHostedService<KafkaHealthMonitor>();
    }

    private static void AddConnections(IServiceCollection services)
    {
        services.AddSingleton<ClientAccess>();
        services.AddSingleton<ManagementAccess>();
        services.AddSingleton<SessionContext>();
        services.AddSingleton<ConnectionRegistry>();
        services.AddSingleton<WebSocketIngestEndpoint>();
        services.AddHostedService<ConnectionSweeper>();
        // Registered after the producer: its StoppingAsync drains the connections before anything stops.
        services.AddHostedService<ConnectionDrainer>();
    }

    private static void AddStream(IServiceCollection services)
    {
        services.AddSingleton<StreamHub>();
        services.AddSingleton<StreamEndpoint>();
        // Returns at once when Ingest:Stream:Enabled is false; else reads Kafka only while someone subscribes.
        services.AddHostedService<StreamConsumer>();
    }
}
