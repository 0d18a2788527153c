using System.Text.Json;

namespace Ingest.Testing;

/// <summary>
/// One line of the gateway's log as Production writes it: an event in Serilog's rendered compact
/// JSON (<c>@t</c>, <c>@m</c>, <c>@l</c> when not Information, <c>@x</c>, then the properties).
/// </summary>
internal sealed class LogLine
{
    private readonly JsonElement _root;

    private LogLine(JsonElement root, string text)
    {
        _root = root;
        Text = text;
    }

    /// <summary>The line as written.</summary>
    public string Text { get; }

    /// <summary>Serilog's level name: <c>Information</c> when the line names none.</summary>
    public string Level => _root.TryGetProperty("@l", out var level) ? level.GetString()! : "Information";

    /// <summary>The rendered message.</summary>
    public string Message => _root.GetProperty("@m").GetString()!;

    public string? SourceContext => Property("SourceContext")?.GetString();

    /// <summary>A property of the event, or null when it has none.</summary>
    public JsonElement? Property(string name) => _root.TryGetProperty(name, out var value) ? value : null;

    /// <summary>The lines of <paramref name="output"/> that are log events; other lines (plain start-up errors) are left out.</summary>
    public static IReadOnlyList<LogLine> In(IEnumerable<string> output) =>
        output.Select(TryParse).OfType<LogLine>().ToArray();

    public static LogLine? TryParse(string line)
    {
        if (!line.StartsWith("{\"@t\":", StringComparison.Ordinal))
        {
            return null;
        }

        using var document = JsonDocument.Parse(line);
        return new LogLine(document.RootElement.Clone(), line);
    }

    public override string ToString() => Text;
}
