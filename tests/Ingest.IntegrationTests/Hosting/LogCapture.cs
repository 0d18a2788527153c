using System.Collections.Concurrent;
using Serilog;
using Serilog.Configuration;
using Serilog.Core;
using Serilog.Events;

namespace Ingest.IntegrationTests.Hosting;

/// <summary>
/// A sink that keeps what a gateway in this process writes, configured the way an operator adds a
/// sink: <c>Serilog:Using</c> naming this assembly and <c>Serilog:WriteTo:n:Name = Capture</c> with
/// the capture's <c>name</c> (<see cref="Settings"/>).
/// </summary>
public sealed class LogCapture : ILogEventSink
{
    private static readonly ConcurrentDictionary<string, LogCapture> Captures = new();
    private readonly ConcurrentQueue<LogEvent> _events = new();

    private LogCapture(string name)
    {
        Name = name;
    }

    public string Name { get; }

    public IReadOnlyCollection<LogEvent> Events => _events;

    /// <summary>A capture of its own for one test.</summary>
    public static LogCapture New() => Named(Guid.NewGuid().ToString("N"));

    public static LogCapture Named(string name) => Captures.GetOrAdd(name, n => new LogCapture(n));

    /// <summary>The configuration that adds this capture as the second sink (after appsettings.Production.json's console).</summary>
    public Dictionary<string, string?> Settings() => new()
    {
        ["Serilog:Using:0"] = "Serilog.Sinks.Console",
        ["Serilog:Using:1"] = typeof(LogCapture).Assembly.GetName().Name,
        ["Serilog:WriteTo:1:Name"] = "Capture",
        ["Serilog:WriteTo:1:Args:name"] = Name,
    };

    public void Emit(LogEvent logEvent) => _events.Enqueue(logEvent);
}

/// <summary>What <c>Serilog:WriteTo</c> finds by the name <c>Capture</c>.</summary>
public static class LogCaptureConfiguration
{
    public static LoggerConfiguration Capture(this LoggerSinkConfiguration writeTo, string name) => writeTo.Sink(LogCapture.Named(name));
}
