using Ingest.Gateway.Security;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Primitives;
using Serilog;
using Serilog.Core;
using Serilog.Events;
using Serilog.Extensions.Hosting;
using Serilog.Extensions.Logging;
using Serilog.Formatting.Compact;

namespace Ingest.Gateway.Hosting;

/// <summary>
/// Logging through Serilog, configured by the <c>Serilog</c> section (Serilog.Settings.Configuration):
/// levels in <c>appsettings.json</c>, sinks and their format per environment
/// (<c>appsettings.Development.json</c>: readable lines; <c>appsettings.Production.json</c>: compact
/// JSON). Every event passes a <see cref="RedactingSink"/> before any sink, those configured under
/// <c>Serilog:WriteTo</c> included, so that no credential reaches a log at any level. HTTP requests
/// get one line each from Serilog's request logging (<see cref="UseRequestLogging"/>).
/// </summary>
internal static class GatewayLogging
{
    /// <summary>The directives that create sinks; they are applied behind the redaction only.</summary>
    private static readonly string[] SinkDirectives = ["WriteTo", "AuditTo"];

    /// <summary>ASP.NET Core's request logging category (request started/finished, at Information).</summary>
    private const string HostingDiagnostics = "Microsoft.AspNetCore.Hosting.Diagnostics";

    public static void Add(IHostApplicationBuilder builder)
    {
        var configuration = builder.Configuration;
        var sinks = new LoggerConfiguration()
            .MinimumLevel.Verbose()
            .ReadFrom.Configuration(new SerilogView(configuration, key => SinkDirectives.Contains(key, StringComparer.OrdinalIgnoreCase) || key.Equals("Using", StringComparison.OrdinalIgnoreCase)));
        if (!SinkDirectives.Any(directive => configuration.GetSection($"Serilog:{directive}").GetChildren().Any()))
        {
            // An environment with no sinks of its own (neither Development nor Production) logs as Production does.
            sinks.WriteTo.Console(new RenderedCompactJsonFormatter());
        }

        // Levels come from Serilog:MinimumLevel only (appsettings.json); Serilog's own default is Information.
        var logger = new LoggerConfiguration()
            .ReadFrom.Configuration(new SerilogView(configuration, key => !SinkDirectives.Contains(key, StringComparer.OrdinalIgnoreCase)))
            .Enrich.FromLogContext()
            .WriteTo.Sink(new RedactingSink(sinks.CreateLogger(), new LogRedactor(configuration)))
            .CreateLogger();

        // Serilog as the provider of Microsoft.Extensions.Logging's own factory, whose filters the
        // category below needs (Serilog's factory, which services.AddSerilog installs, has none),
        // with the logger an instance of this application rather than the static Log.Logger, which
        // tests hosting several gateways in one process would share.
        builder.Logging.ClearProviders();
        builder.Logging.AddSerilog(logger, dispose: true);
        builder.Services.AddSingleton<Serilog.ILogger>(logger);
        builder.Services.AddSingleton(new DiagnosticContext(logger));
        builder.Services.AddSingleton<IDiagnosticContext>(services => services.GetRequiredService<DiagnosticContext>());

        // ASP.NET Core starts an Activity and a log scope for every request whenever its request
        // logging category is enabled at any level, only so that those logs carry trace ids; a
        // WebSocket request holds them for the connection's whole life (about 0.6 KB of every idle
        // connection, measured with idle-bench). Its request logs are Information: while Serilog does
        // not write them (the category's level, live from configuration), the category is off, and
        // the Activity is made only when tracing listens (OTLP). Serilog's request logging below
        // replaces them.
        var requestLogs = logger.ForContext(Constants.SourceContextPropertyName, HostingDiagnostics);
        builder.Logging.AddFilter<SerilogLoggerProvider>(HostingDiagnostics, _ => requestLogs.IsEnabled(LogEventLevel.Information));

        // Every other category passes to Serilog, whose levels decide: rules for this provider come
        // before Logging:LogLevel, which so has no say, and levels are set in one place.
        builder.Logging.AddFilter<SerilogLoggerProvider>(null, LogLevel.Trace);
    }

    /// <summary>
    /// One line per HTTP request as it completes (Serilog's request logging): method, path with its
    /// query (credentials in it redacted), status and elapsed time. Information; Debug for the probes
    /// and management endpoints, which are polled; Warning for a 5xx; Error for an exception.
    /// WebSocket upgrades are left out: the middleware would hold its state (a pending async method
    /// and a diagnostic context) for each connection's whole life, and an accepted connection has
    /// its own opened and closed lines, a refused one its "rejected" line.
    /// </summary>
    public static void UseRequestLogging(IApplicationBuilder app)
    {
        var logger = app.ApplicationServices.GetRequiredService<Serilog.ILogger>();
        app.UseWhen(context => !IsUpgrade(context), requests => requests.UseSerilogRequestLogging(options =>
        {
            options.Logger = logger;
            options.IncludeQueryInRequestPath = true;
            options.GetLevel = RequestLevel;
        }));
    }

    internal static LogEventLevel RequestLevel(HttpContext context, double elapsedMs, Exception? exception)
    {
        if (exception is not null)
        {
            return LogEventLevel.Error;
        }

        var metadata = context.GetEndpoint()?.Metadata;
        if (metadata?.GetMetadata<ProbeEndpoint>() is not null || metadata?.GetMetadata<ManagementEndpoint>() is not null)
        {
            return LogEventLevel.Debug;
        }

        return context.Response.StatusCode >= StatusCodes.Status500InternalServerError ? LogEventLevel.Warning : LogEventLevel.Information;
    }

    private static bool IsUpgrade(HttpContext context) =>
        context.Features.Get<IHttpUpgradeFeature>() is { IsUpgradableRequest: true }
        || context.Features.Get<IHttpExtendedConnectFeature>() is { IsExtendedConnect: true };

    /// <summary>
    /// The live configuration with only the directives of the <c>Serilog</c> section that
    /// <paramref name="keep"/> accepts; levels stay live (Serilog follows their changes).
    /// </summary>
    private sealed class SerilogView(IConfiguration root, Func<string, bool> keep) : IConfiguration
    {
        public string? this[string key]
        {
            get => root[key];
            set => root[key] = value;
        }

        public IConfigurationSection GetSection(string key) =>
            key.Equals("Serilog", StringComparison.OrdinalIgnoreCase) ? new Section(root.GetSection(key), keep) : root.GetSection(key);

        public IEnumerable<IConfigurationSection> GetChildren() => root.GetChildren();

        public IChangeToken GetReloadToken() => root.GetReloadToken();

        private sealed class Section(IConfigurationSection section, Func<string, bool> keep) : IConfigurationSection
        {
            private static readonly IConfigurationSection Empty = new ConfigurationBuilder().Build().GetSection("Serilog");

            public string Key => section.Key;

            public string Path => section.Path;

            public string? Value
            {
                get => section.Value;
                set => section.Value = value;
            }

            public string? this[string key]
            {
                get => keep(First(key)) ? section[key] : null;
                set => section[key] = value;
            }

            public IConfigurationSection GetSection(string key) => keep(First(key)) ? section.GetSection(key) : Empty.GetSection(key);

            public IEnumerable<IConfigurationSection> GetChildren() => section.GetChildren().Where(child => keep(child.Key));

            public IChangeToken GetReloadToken() => section.GetReloadToken();

            private static string First(string key) => key.Split(ConfigurationPath.KeyDelimiter, 2)[0];
        }
    }
}
