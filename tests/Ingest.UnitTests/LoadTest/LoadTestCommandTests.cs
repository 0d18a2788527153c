using Ingest.LoadTest.Cli;
using Ingest.LoadTest.Scenarios;

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

    [Fact]
    public void RunningFor_TenMinutesAtOneMessageEvery100Ms_Is6000MessagesOfTheBatch()
    {
        var soak = ScenarioSettings.Preset("soak", new Uri("ws://127.0.0.1/ws"), "127.0.0.1:9092");

        Assert.Equal(6_000, soak.RunningFor(TimeSpan.FromMinutes(10)).EventsPerClient);
        Assert.Equal(60_000, (soak with { Batch = 10 }).RunningFor(TimeSpan.FromMinutes(10)).EventsPerClient);
        Assert.Equal(1, soak.RunningFor(TimeSpan.FromMilliseconds(10)).EventsPerClient);
    }

    [Fact]
    public void ConnectionsPreset_HoldsIdleThenSendsOneEventEach()
    {
        var connections = ScenarioSettings.Preset("connections", new Uri("ws://127.0.0.1/ws"), "127.0.0.1:9092");

        Assert.True(connections.Hold > TimeSpan.Zero);
        Assert.Equal(1, connections.EventsPerClient);
        Assert.Equal(LoadSimulation.Paced, connections.Simulation);
    }

    [Fact]
    public void Scenario_HoldAndDurationOptions_Parse()
    {
        var parse = LoadTestCommand.Create().Parse(["soak", "--duration-seconds", "600", "--hold-seconds", "5"]);

        Assert.Empty(parse.Errors);
        Assert.Equal(600, parse.GetValue<int?>("--duration-seconds"));
        Assert.Equal(5, parse.GetValue<int?>("--hold-seconds"));
    }
}
