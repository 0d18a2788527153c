using System.Globalization;
using Microsoft.Extensions.Primitives;
using Serilog;
using Serilog.Core;
using Serilog.Events;
using Serilog.Extensions.Logging;

namespace Ingest.Gateway.Hosting;

/// <summary>
/// Logging through Serilog: readable lines on the console, levels from the <c>Serilog</c> section.
/// Every event passes a <see cref="RedactingSink"/> before any sink, those configured under
/// <c>Serilog:WriteTo</c> included, so that no credential reaches a log at any level.
/// </summary>
internal static class GatewayLogging
{
    /// <summary>The directives that create sinks; they are applied behind the redaction only.</summary>
    private static readonly string[] SinkDirectives = ["WriteTo", "AuditTo"];

    /// <summary>ASP.NET Core's request logging category (request started/finished, at Information).</summary>
    private const string HostingDiagnostics = "Microsoft.AspNetCore.Hosting.Diagnostics";

    public static void Add(IHostApplicationBuilder builder)
    {
        var sinks = new LoggerConfiguration()
            .MinimumLevel.Verbose()
            .ReadFrom.Configuration(new SerilogView(builder.Configuration, key => SinkDirectives.Contains(key, StringComparer.OrdinalIgnoreCase) || key.Equals("Using", StringComparison.OrdinalIgnoreCase)))
            .WriteTo.Console(
                outputTemplate: "[{Timestamp:HH:mm:ss.fff} {Level:u3}] {SourceContext}: {Message:lj}{NewLine}{Exception}",
                formatProvider: CultureInfo.InvariantCulture)
            .CreateLogger();
        var logger = new LoggerConfiguration()
            .MinimumLevel.Information()
            .MinimumLevel.Override("Microsoft.AspNetCore", LogEventLevel.Warning)
            .MinimumLevel.Override("Microsoft.Hosting.Lifetime", LogEventLevel.Information)
            .ReadFrom.Configuration(new SerilogView(builder.Configuration, key => !SinkDirectives.Contains(key, StringComparer.OrdinalIgnoreCase)))
            .Enrich.FromLogContext()
            .WriteTo.Sink(new RedactingSink(sinks, new LogRedactor(builder.Configuration)))
            .CreateLogger();
        builder.Logging.ClearProviders();
        builder.Logging.AddSerilog(logger, dispose: true);

        // ASP.NET Core starts an Activity and a log scope for every request whenever its request
        // logging category is enabled at any level, only so that those logs carry trace ids; a
        // WebSocket request holds them for the connection's whole life (about 0.6 KB of every idle
        // connection, measured with idle-bench). Its request logs are Information: while Serilog does
        // not write them (the category's level, live from configuration), the category is off, and
        // the Activity is made only when tracing listens (OTLP).
        var requestLogs = logger.ForContext(Constants.SourceContextPropertyName, HostingDiagnostics);
        builder.Logging.AddFilter<SerilogLoggerProvider>(HostingDiagnostics, _ => requestLogs.IsEnabled(LogEventLevel.Information));
    }

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
