using Ingest.Listener.Cli;
using Ingest.Listener.Output;

namespace Ingest.UnitTests.Listener;

/// <summary>The command line without a broker: help, usage errors and discovery failure.</summary>
public sealed class ListenerCommandTests
{
    [Fact]
    public async Task Help_ListsEveryOptionAndExitsZero()
    {
        var (exitCode, output, _) = await Run("--help");

        Assert.Equal(0, exitCode);
        foreach (var option in new[] { "--bootstrap", "--topic", "--group", "--from-beginning", "--format", "--headers", "--show-trace", "--dlq", "--count", "--timeout", "--quiet", "--verify", "--no-color", "bench" })
        {
            Assert.Contains(option, output, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task NoBootstrap_NothingDiscovered_ExplainsAndExitsThree()
    {
        var (exitCode, output, error) = await Run("--count", "1");

        Assert.Equal(ExitCodes.Failed, exitCode);
        Assert.Contains("no --bootstrap given and no gateway found on this machine", error, StringComparison.Ordinal);
        Assert.Empty(output);
    }

    [Theory]
    [InlineData("--count", "0")]
    [InlineData("--timeout", "-1")]
    [InlineData("--format", "xml")]
    [InlineData("--no-such-option")]
    public async Task InvalidCommandLine_ExitsWithUsage(params string[] args)
    {
        var (exitCode, _, error) = await Run(["--bootstrap", "127.0.0.1:1", .. args]);

        Assert.Equal(ExitCodes.Usage, exitCode);
        Assert.Contains("error:", error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task VerifyWithDeadLetter_IsRejected()
    {
        var (exitCode, _, error) = await Run("--bootstrap", "127.0.0.1:1", "--dlq", "--verify");

        Assert.Equal(ExitCodes.Usage, exitCode);
        Assert.Contains("cannot be combined with --dlq", error, StringComparison.Ordinal);
    }

    private static async Task<(int ExitCode, string Output, string Error)> Run(params string[] args)
    {
        using var output = new StringWriter();
        using var error = new StringWriter();
        var exitCode = await ListenerCommand.InvokeAsync(args, new ListenerConsole(output, error), () => null, handleTermination: false, TestContext.Current.CancellationToken);
        return (exitCode, output.ToString(), error.ToString());
    }
}
