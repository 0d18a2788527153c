namespace Ingest.BrowserTests.Infrastructure;

/// <summary>
/// Where tests leave files for people (screenshots): <c>$INGEST_TEST_ARTIFACTS</c>, which
/// <c>scripts/test.sh</c> points at <c>.cache/test-results</c>, else <c>TestResults/</c> in the
/// test output folder.
/// </summary>
internal static class Artifacts
{
    public static string PathFor(string folder, string file)
    {
        var root = Environment.GetEnvironmentVariable("INGEST_TEST_ARTIFACTS") is { Length: > 0 } configured
            ? configured
            : Path.Combine(AppContext.BaseDirectory, "TestResults");
        var directory = Path.Combine(root, folder);
        Directory.CreateDirectory(directory);
        return Path.Combine(directory, file);
    }
}
