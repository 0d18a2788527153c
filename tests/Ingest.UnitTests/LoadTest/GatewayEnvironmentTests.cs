using System.Diagnostics;
using Ingest.LoadTest.Bench;

namespace Ingest.UnitTests.LoadTest;

public sealed class GatewayEnvironmentTests
{
    [Fact]
    public void Parse_KeyValueLines_IgnoringCommentsAndBlankLines()
    {
        string[] lines =
        [
            "# the gateway's environment",
            "",
            "DOTNET_TieredPGO=1",
            "  export DOTNET_gcServer = 0  ",
            "QUOTED=\"a # b\"",
            "COMMENTED=value # why",
            "DOTNET_TieredPGO=0",
        ];

        var environment = GatewayEnvironment.Parse(lines, "/repo/deploy/gateway.env", _ => true);

        Assert.Equal(
            [new("DOTNET_gcServer", "0"), new("QUOTED", "a # b"), new("COMMENTED", "value"), new KeyValuePair<string, string>("DOTNET_TieredPGO", "0")],
            environment.Applied);
        Assert.Empty(environment.Skipped);
        Assert.Equal("/repo/deploy/gateway.env: DOTNET_gcServer=0, QUOTED=a # b, COMMENTED=value, DOTNET_TieredPGO=0", environment.Summary());
    }

    [Fact]
    public void Parse_PreloadOfAMissingLibrary_IsReportedAndSkipped_TheRestApplied()
    {
        var present = "/usr/lib/x86_64-linux-gnu/libjemalloc.so.2";
        string[] lines = ["LD_PRELOAD=/usr/lib/x86_64-linux-gnu/libmissing.so.1", "DOTNET_TieredPGO=1", "not a variable", $"LD_AUDIT={present}"];

        var environment = GatewayEnvironment.Parse(lines, "gateway.env", path => path == present);

        Assert.Equal([new("DOTNET_TieredPGO", "1"), new KeyValuePair<string, string>("LD_AUDIT", present)], environment.Applied);
        Assert.Equal(2, environment.Skipped.Count);
        Assert.Contains("LD_PRELOAD=/usr/lib/x86_64-linux-gnu/libmissing.so.1: /usr/lib/x86_64-linux-gnu/libmissing.so.1 does not exist", environment.Skipped[0], StringComparison.Ordinal);
        Assert.Contains("line 3", environment.Skipped[1], StringComparison.Ordinal);
        Assert.Contains("SKIPPED", environment.Summary(), StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_PreloadByName_IsLookedUpInTheLibraryDirectories()
    {
        var found = GatewayEnvironment.Parse(["LD_PRELOAD=libjemalloc.so.2"], "gateway.env", path => path == "/usr/lib/x86_64-linux-gnu/libjemalloc.so.2" || path == "/usr/lib/aarch64-linux-gnu/libjemalloc.so.2");
        var missing = GatewayEnvironment.Parse(["LD_PRELOAD=libjemalloc.so.2"], "gateway.env", _ => false);

        Assert.Single(found.Applied);
        Assert.Empty(missing.Applied);
        Assert.Contains("libjemalloc.so.2 is in none of", Assert.Single(missing.Skipped), StringComparison.Ordinal);
    }

    [Fact]
    public void ApplyTo_SetsTheVariablesOnTheProcessToStart()
    {
        var environment = GatewayEnvironment.Parse(["INGEST_TEST_VARIABLE=42"], "gateway.env", _ => true);
        var start = new ProcessStartInfo("dotnet");

        environment.ApplyTo(start);

        Assert.Equal("42", start.Environment["INGEST_TEST_VARIABLE"]);
    }

    [Fact]
    public void Load_None_AppliesNothing_AndAMissingFileNamedOnTheCommandLineIsAnError()
    {
        Assert.Empty(GatewayEnvironment.Load("none").Applied);
        Assert.Throws<FileNotFoundException>(() => GatewayEnvironment.Load(Path.Combine(Path.GetTempPath(), $"missing-{Guid.NewGuid():N}.env")));
    }
}
