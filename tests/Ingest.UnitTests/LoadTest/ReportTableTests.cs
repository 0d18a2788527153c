using System.Text.Json;
using Ingest.LoadTest.Reports;

namespace Ingest.UnitTests.LoadTest;

public sealed class ReportTableTests
{
    private static readonly ReportTable Table = new(
        ["Measure", "Value", "Target"],
        [["events/s", "65,000", ">= 60%"], ["p99 ms", "12.5", "< 20"]]);

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
            var (markdown, json) = await Table.WriteFilesAsync(new { Sent = 5, Landed = 5 }, directory, "classic", "Ingest load test", null, TestContext.Current.CancellationToken);

            Assert.StartsWith(Path.Combine(directory, "classic-"), markdown, StringComparison.Ordinal);
            Assert.EndsWith(".md", markdown, StringComparison.Ordinal);
            Assert.Contains("| events/s | 65,000 | >= 60% |", await File.ReadAllTextAsync(markdown, TestContext.Current.CancellationToken), StringComparison.Ordinal);
            using var document = JsonDocument.Parse(await File.ReadAllTextAsync(json, TestContext.Current.CancellationToken));
            Assert.Equal(5, document.RootElement.GetProperty("landed").GetInt32());
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }
}
