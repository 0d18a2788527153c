using System.Text.Json;
using Ingest.LoadTest.Reports;

namespace Ingest.UnitTests.LoadTest;

public sealed class ReportTableTests
{
    private static readonly ReportTable Table = new(
        ["Measure", "Value", "Target"],
        [["events/s", "65,000", ">= 60%"], ["p99 ms", "12.5", "< 20"]]);

    private static readonly BarChart Chart = new("Send to ack", "ms", [("p50", 5), ("p99", 20)]);

    [Fact]
    public void BarChart_BarsAreScaledToTheLargestValue_AndEveryTextIsEncoded()
    {
        var svg = new BarChart("<latency>", "ms", [("p50", 5), ("p99", 20)]).ToSvg();

        Assert.Contains("&lt;latency&gt;", svg, StringComparison.Ordinal);
        Assert.DoesNotContain("<latency>", svg, StringComparison.Ordinal);
        Assert.Contains("width=\"105\"", svg, StringComparison.Ordinal); // 5 of 20 over 420 px
        Assert.Contains("width=\"420\"", svg, StringComparison.Ordinal);
        Assert.Contains(">20.0 ms<", svg, StringComparison.Ordinal);
    }

    [Fact]
    public void ToMarkdown_TitlePreambleAndRows_WithTheValueColumnRightAligned()
    {
        var markdown = Table.ToMarkdown("Ingest bench", "64 connections.");

        var lines = markdown.Split('\n', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(
            ["# Ingest bench", "64 connections.", "| Measure | Value | Target |", "|---|---:|---|", "| events/s | 65,000 | >= 60% |", "| p99 ms | 12.5 | < 20 |"],
            lines);
    }

    [Fact]
    public async Task WriteFilesAsync_WritesMarkdownAndTheResultAsJson()
    {
        var directory = Path.Combine(Path.GetTempPath(), "ingest-report-" + Guid.NewGuid().ToString("N"));
        try
        {
            var files = await Table.WriteFilesAsync(new { Sent = 5, Landed = 5 }, directory, "classic", "Ingest load test", null, [Chart], TestContext.Current.CancellationToken);

            Assert.StartsWith(Path.Combine(directory, "classic-"), files.Markdown, StringComparison.Ordinal);
            Assert.EndsWith(".md", files.Markdown, StringComparison.Ordinal);
            Assert.Contains("| events/s | 65,000 | >= 60% |", await File.ReadAllTextAsync(files.Markdown, TestContext.Current.CancellationToken), StringComparison.Ordinal);
            var html = await File.ReadAllTextAsync(files.Html, TestContext.Current.CancellationToken);
            Assert.Contains("<td>events/s</td><td>65,000</td><td>&gt;= 60%</td>", html, StringComparison.Ordinal);
            Assert.Contains("<svg", html, StringComparison.Ordinal);
            using var document = JsonDocument.Parse(await File.ReadAllTextAsync(files.Json, TestContext.Current.CancellationToken));
            Assert.Equal(5, document.RootElement.GetProperty("landed").GetInt32());
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }
}
