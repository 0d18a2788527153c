using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using Spectre.Console;

namespace Ingest.LoadTest.Reports;

/// <summary>
/// A report's rows, shown as a console table and written as Markdown (the same rows) and JSON (the
/// full result) under the results folder. The second column holds the numbers and is right-aligned,
/// unless <paramref name="rightAligned"/> says which columns are.
/// </summary>
internal sealed class ReportTable(IReadOnlyList<string> columns, IReadOnlyList<IReadOnlyList<string>> rows, Func<int, bool>? rightAligned = null)
{
    private readonly Func<int, bool> _rightAligned = rightAligned ?? (static i => i == 1);

    private static readonly JsonSerializerOptions JsonOptions = new(JsonSerializerDefaults.Web) { WriteIndented = true };

    public IReadOnlyList<string> Columns { get; } = columns;

    public IReadOnlyList<IReadOnlyList<string>> Rows { get; } = rows;

    public void WriteToConsole()
    {
        var table = new Table();
        for (var i = 0; i < Columns.Count; i++)
        {
            var column = new TableColumn(Markup.Escape(Columns[i]));
            table.AddColumn(_rightAligned(i) ? column.RightAligned() : column);
        }

        foreach (var row in Rows)
        {
            table.AddRow(row.Select(Markup.Escape).ToArray());
        }

        AnsiConsole.Write(table);
    }

    public string ToMarkdown(string title, string? preamble, IReadOnlyList<ReportSection>? sections = null)
    {
        var markdown = new StringBuilder().AppendLine(CultureInfo.InvariantCulture, $"# {title}").AppendLine();
        if (preamble is not null)
        {
            markdown.AppendLine(preamble).AppendLine();
        }

        markdown.AppendLine($"| {string.Join(" | ", Columns)} |");
        markdown.AppendLine($"|{string.Join("|", Columns.Select((_, i) => _rightAligned(i) ? "---:" : "---"))}|");
        foreach (var row in Rows)
        {
            markdown.AppendLine($"| {string.Join(" | ", row)} |");
        }

        foreach (var section in sections ?? [])
        {
            markdown.AppendLine().Append(section.Markdown);
        }

        return markdown.ToString();
    }

    /// <summary>A Markdown table: a header, the alignment row (numbers right-aligned), the rows.</summary>
    public static string MarkdownTable(IReadOnlyList<string> columns, IEnumerable<IReadOnlyList<string>> rows, Func<int, bool> rightAligned)
    {
        var markdown = new StringBuilder();
        markdown.AppendLine($"| {string.Join(" | ", columns)} |");
        markdown.AppendLine($"|{string.Join("|", columns.Select((_, i) => rightAligned(i) ? "---:" : "---"))}|");
        foreach (var row in rows)
        {
            markdown.AppendLine($"| {string.Join(" | ", row.Select(cell => cell.Replace("|", "\\|", StringComparison.Ordinal)))} |");
        }

        return markdown.ToString();
    }

    /// <summary>An HTML table, every cell encoded; cells of right-aligned columns get <c>class="num"</c>.</summary>
    public static string HtmlTable(IReadOnlyList<string> columns, IEnumerable<IReadOnlyList<string>> rows, Func<int, bool> rightAligned)
    {
        var html = new StringBuilder("<table><thead><tr>");
        for (var i = 0; i < columns.Count; i++)
        {
            html.Append(CultureInfo.InvariantCulture, $"<th{(rightAligned(i) ? " class=\"num\"" : "")}>{WebUtility.HtmlEncode(columns[i])}</th>");
        }

        html.AppendLine("</tr></thead><tbody>");
        foreach (var row in rows)
        {
            html.Append("<tr>");
            for (var i = 0; i < row.Count; i++)
            {
                html.Append(CultureInfo.InvariantCulture, $"<td{(rightAligned(i) ? " class=\"num\"" : "")}>{WebUtility.HtmlEncode(row[i])}</td>");
            }

            html.AppendLine("</tr>");
        }

        return html.AppendLine("</tbody></table>").ToString();
    }

    /// <summary>A self-contained page: the title, the preamble, the table, the charts as inline SVG, then the sections.</summary>
    public string ToHtml(string title, string? preamble, IReadOnlyList<BarChart> charts, IReadOnlyList<ReportSection>? sections = null)
    {
        static string E(string text) => WebUtility.HtmlEncode(text);
        var html = new StringBuilder()
            .AppendLine("<!doctype html>")
            .AppendLine("<html lang=\"en\"><head><meta charset=\"utf-8\">")
            .AppendLine(CultureInfo.InvariantCulture, $"<title>{E(title)}</title>")
            .AppendLine("<style>body{font:14px/1.45 system-ui,sans-serif;color:#1d2330;margin:2rem auto;max-width:60rem;padding:0 1rem}"
                + "table{border-collapse:collapse;margin:1rem 0}td,th{border-bottom:1px solid #e1e4ea;padding:.3rem .7rem;text-align:left;vertical-align:top}"
                + "td:nth-child(2){text-align:right;font-variant-numeric:tabular-nums}svg{display:block;margin:1.2rem 0}"
                + "svg text{font:13px system-ui,sans-serif;fill:#1d2330}svg .title{font-weight:600}svg .bar{fill:#4a6fd8}"
                + "svg .tick,svg .legend{font-size:11px;fill:#667085}td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}"
                + "details{margin:1rem 0}summary{cursor:pointer}</style>")
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

        foreach (var section in sections ?? [])
        {
            html.AppendLine(section.Html);
        }

        return html.AppendLine("</body></html>").ToString();
    }

    /// <summary>
    /// Writes <c>&lt;name&gt;-&lt;UTC time&gt;.md</c>, <c>.html</c> (with <paramref name="charts"/>),
    /// <c>.json</c> and, when <paramref name="csv"/> is given, <c>.csv</c> under <paramref name="directory"/>;
    /// <paramref name="sections"/> follow the table in the Markdown and the HTML.
    /// </summary>
    public async Task<ReportFiles> WriteFilesAsync<T>(
        T result,
        string directory,
        string name,
        string title,
        string? preamble,
        IReadOnlyList<BarChart> charts,
        CancellationToken cancellationToken,
        IReadOnlyList<ReportSection>? sections = null,
        string? csv = null)
    {
        Directory.CreateDirectory(directory);
        var stem = Path.Combine(directory, $"{name}-{DateTime.UtcNow:yyyyMMdd-HHmmss}");
        var files = new ReportFiles(stem + ".md", stem + ".html", stem + ".json", csv is null ? null : stem + ".csv");
        await File.WriteAllTextAsync(files.Markdown, ToMarkdown(title, preamble, sections), cancellationToken).ConfigureAwait(false);
        await File.WriteAllTextAsync(files.Html, ToHtml(title, preamble, charts, sections), cancellationToken).ConfigureAwait(false);
        await File.WriteAllTextAsync(files.Json, JsonSerializer.Serialize(result, JsonOptions), cancellationToken).ConfigureAwait(false);
        if (files.Csv is not null)
        {
            await File.WriteAllTextAsync(files.Csv, csv, cancellationToken).ConfigureAwait(false);
        }

        return files;
    }
}

/// <summary>The files of one report.</summary>
internal sealed record ReportFiles(string Markdown, string Html, string Json, string? Csv = null)
{
    public override string ToString() => Csv is null ? $"{Markdown}, {Html}, {Json}" : $"{Markdown}, {Html}, {Json}, {Csv}";
}

/// <summary>A part of a report after its main table: the same content as Markdown and as HTML.</summary>
internal sealed record ReportSection(string Markdown, string Html);
