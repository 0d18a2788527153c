using Ingest.LoadTest.Cli;

namespace Ingest.UnitTests.LoadTest;

public sealed class LoadTestCommandTests
{
    [Theory]
    [InlineData("classic")]
    [InlineData("burst")]
    [InlineData("batch")]
    [InlineData("soak")]
    [InlineData("connections")]
    public void Scenario_WithUrlAndBootstrap_Parses(string scenario)
    {
        var parse = LoadTestCommand.Create().Parse([scenario, "--url", "ws://127.0.0.1:5080/ws", "--bootstrap", "127.0.0.1:9092", "--clients", "32", "--events-per-client", "32"]);

        Assert.Empty(parse.Errors);
        var url = parse.GetValue<Uri?>("--url");
        Assert.Equal(new Uri("ws://127.0.0.1:5080/ws"), url);
        Assert.Equal(32, parse.GetValue<int?>("--clients"));
    }

    [Theory]
    [InlineData("http://127.0.0.1:5080/ws")]
    [InlineData("127.0.0.1:5080")]
    [InlineData("not a url")]
    public void Scenario_UrlThatIsNotWebSocket_IsAnErrorNamingTheOption(string url)
    {
        var parse = LoadTestCommand.Create().Parse(["classic", "--url", url]);

        var error = Assert.Single(parse.Errors);
        Assert.Contains("--url", error.Message, StringComparison.Ordinal);
        Assert.Contains(url, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Bench_ZeroConnections_IsAnError()
    {
        var parse = LoadTestCommand.Create().Parse(["bench", "--connections", "0"]);

        Assert.Contains(parse.Errors, e => e.Message.Contains("--connections", StringComparison.Ordinal));
    }
}
