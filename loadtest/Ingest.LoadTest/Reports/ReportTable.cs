using System.Globalization;
using System.Net;
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

    /// <summary>A self-contained page: the title, the preamble, the table and the charts as inline SVG.</summary>
    public string ToHtml(string title, string? preamble, IReadOnlyList<BarChart> charts)
    {
        static string E(string text) => WebUtility.HtmlEncode(text);
        var html = new StringBuilder()
            .AppendLine("<!doctype html>")
            .AppendLine("<html lang=\"en\"><head><meta charset=\"utf-8\">")
            .AppendLine(CultureInfo.InvariantCulture, $"<title>{E(title)}</title>")
            .AppendLine("<style>body{font:14px/1.45 system-ui,sans-serif;color:#1d2330;margin:2rem auto;max-width:60rem;padding:0 1rem}"
                + "table{border-collapse:collapse;margin:1rem 0}td,th{border-bottom:1px solid #e1e4ea;padding:.3rem .7rem;text-align:left;vertical-align:top}"
                + "td:nth-child(2){text-align:right;font-variant-numeric:tabular-nums}svg{display:block;margin:1.2rem 0}"
                + "svg text{font:13px system-ui,sans-serif;fill:#1d2330}svg .title{font-weight:600}svg .bar{fill:#4a6fd8}</style>")
            .AppendLine("</head><body>")
            .AppendLine(CultureInfo.InvariantCulture, $"<h1>{E(title)}</h1>");
        if (preamble is not null)
        {
            html.AppendLine(CultureInfo.InvariantCulture, $"<p>{E(preamble)}</p>");
        }

        html.Append("<table><thead><tr>");
        foreach (var column in Columns)
        {
            html.Append(CultureInfo.InvariantCulture, $"<th>{E(column)}</th>");
        }

        html.AppendLine("</tr></thead><tbody>");
        foreach (var row in Rows)
        {
            html.Append("<tr>");
            foreach (var cell in row)
            {
                html.Append(CultureInfo.InvariantCulture, $"<td>{E(cell)}</td>");
            }

            html.AppendLine("</tr>");
        }

        html.AppendLine("</tbody></table>");
        foreach (var chart in charts)
        {
            html.AppendLine(chart.ToSvg());
        }

        return html.AppendLine("</body></html>").ToString();
    }

    /// <summary>
    /// Writes <c>&lt;name&gt;-&lt;UTC time&gt;.md</c>, <c>.html</c> (with <paramref name="charts"/>) and
    /// <c>.json</c> under <paramref name="directory"/>.
    /// </summary>
    public async Task<ReportFiles> WriteFilesAsync<T>(
        T result, string directory, string name, string title, string? preamble, IReadOnlyList<BarChart> charts, CancellationToken cancellationToken)
    {
        Directory.CreateDirectory(directory);
        var stem = Path.Combine(directory, $"{name}-{DateTime.UtcNow:yyyyMMdd-HHmmss}");
        var files = new ReportFiles(stem + ".md", stem + ".html", stem + ".json");
        await File.WriteAllTextAsync(files.Markdown, ToMarkdown(title, preamble), cancellationToken).ConfigureAwait(false);
        await File.WriteAllTextAsync(files.Html, ToHtml(title, preamble, charts), cancellationToken).ConfigureAwait(false);
        await File.WriteAllTextAsync(files.Json, JsonSerializer.Serialize(result, JsonOptions), cancellationToken).ConfigureAwait(false);
        return files;
    }
}

/// <summary>The files of one report.</summary>
internal sealed record ReportFiles(string Markdown, string Html, string Json)
{
    public override string ToString() => $"{Markdown}, {Html}, {Json}";
}
