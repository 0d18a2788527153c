using System.Text.RegularExpressions;

namespace Ingest.UnitTests.Deploy;

/// <summary>
/// <c>deploy/gateway.env</c> is the gateway's process environment, and every way of starting the
/// gateway must run with it: the run script reads it, compose names it as the gateway's env_file,
/// and the Kubernetes ConfigMap carries each of its keys with the same value.
/// </summary>
public sealed partial class GatewayEnvTests
{
    private static readonly string Root = FindRoot();

    [Fact]
    public void EveryLine_IsACommentABlankOrKeyEqualsValue_WithAnEnvironmentVariableName()
    {
        foreach (var line in File.ReadAllLines(Path.Combine(Root, "deploy", "gateway.env")))
        {
            if (string.IsNullOrWhiteSpace(line) || line.StartsWith('#'))
            {
                continue;
            }

            Assert.Matches(Setting(), line);
        }
    }

    [Fact]
    public void RunScriptAndCompose_ReadTheFile()
    {
        Assert.Contains("deploy/gateway.env", File.ReadAllText(Path.Combine(Root, "scripts", "run.sh")), StringComparison.Ordinal);
        var compose = File.ReadAllText(Path.Combine(Root, "docker-compose.yml"));
        var gateway = compose[compose.IndexOf("\n  gateway:", StringComparison.Ordinal)..];
        Assert.Contains("\n    env_file: deploy/gateway.env\n", gateway, StringComparison.Ordinal);
    }

    [Fact]
    public void KubernetesConfigMap_CarriesEverySetting_WithTheSameValue()
    {
        var manifest = File.ReadAllText(Path.Combine(Root, "deploy", "kubernetes", "gateway.yaml"));
        foreach (var line in File.ReadAllLines(Path.Combine(Root, "deploy", "gateway.env")))
        {
            var setting = Setting().Match(line);
            if (!setting.Success)
            {
                continue;
            }

            Assert.Contains($"  {setting.Groups["key"].Value}: \"{setting.Groups["value"].Value}\"", manifest, StringComparison.Ordinal);
        }
    }

    private static string FindRoot()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "Ingest.sln")))
            {
                return directory.FullName;
            }
        }

        throw new InvalidOperationException("Ingest.sln not found above the test assembly.");
    }

    [GeneratedRegex(@"^(?<key>[A-Za-z_][A-Za-z0-9_]*)=(?<value>[^\s]*)$")]
    private static partial Regex Setting();
}
