using System.Globalization;
using System.Text;
using System.Text.Json;
using Spectre.Console;

namespace Ingest.LoadTest.Reports;

/// <summary>
/// A report's rows, shown as a console table and written as Markdown (the same rows) and JSON (the
/// full result) under the results folder. The second column holds the numbers and is right-aligned.
/// </summary>
internal sealed class ReportTable(IReadOnlyList<string> columns, IReadOnlyList<IReadOnlyList<string>> rows)
{
    private static readonly JsonSerializerOptions JsonOptions = new(JsonSerializerDefaults.Web) { WriteIndented = true };

    public IReadOnlyList<string> Columns { get; } = columns;

    public IReadOnlyList<IReadOnlyList<string>> Rows { get; } = rows;

    public void WriteToConsole()
    {
        var table = new Table();
        for (var i = 0; i < Columns.Count; i++)
        {
            var column = new TableColumn(Markup.Escape(Columns[i]));
            table.AddColumn(i == 1 ? column.RightAligned() : column);
        }

        foreach (var row in Rows)
        {
            table.AddRow(row.Select(Markup.Escape).ToArray());
        }

        AnsiConsole.Write(table);
    }

    public string ToMarkdown(string title, string? preamble)
    {
        var markdown = new StringBuilder().AppendLine(CultureInfo.InvariantCulture, $"# {title}").AppendLine();
        if (preamble is not null)
        {
            markdown.AppendLine(preamble).AppendLine();
        }

        markdown.AppendLine($"| {string.Join(" | ", Columns)} |");
        markdown.AppendLine($"|{string.Join("|", Columns.Select((_, i) => i == 1 ? "---:" : "---"))}|");
        foreach (var row in Rows)
        {
            markdown.AppendLine($"| {string.Join(" | ", row)} |");
        }

        return markdown.ToString();
    }

    /// <summary>Writes <c>&lt;name&gt;-&lt;UTC time&gt;.md</c> and <c>.json</c> under <paramref name="directory"/>.</summary>
    public async Task<(string Markdown, string Json)> WriteFilesAsync<T>(
        T result, string directory, string name, string title, string? preamble, CancellationToken cancellationToken)
    {
        Directory.CreateDirectory(directory);
        var stem = Path.Combine(directory, $"{name}-{DateTime.UtcNow:yyyyMMdd-HHmmss}");
        var markdownPath = stem + ".md";
        var jsonPath = stem + ".json";
        await File.WriteAllTextAsync(markdownPath, ToMarkdown(title, preamble), cancellationToken).ConfigureAwait(false);
        await File.WriteAllTextAsync(jsonPath, JsonSerializer.Serialize(result, JsonOptions), cancellationToken).ConfigureAwait(false);
        return (markdownPath, jsonPath);
    }
}
