namespace Ingest.UnitTests.Deploy;

/// <summary>
/// <c>deploy/gateway.env</c> is the gateway's process environment, and every way of starting the
/// gateway must run with it: the run script reads it, each compose gateway names it as its env_file
/// (so that compose renders every setting into its environment), and the ConfigMap that each
/// Kubernetes overlay's Deployment reads carries each of its keys with the same value.
/// </summary>
public sealed class GatewayEnvTests
{
    [Fact]
    public void EveryLine_IsACommentABlankOrKeyEqualsValue_WithAnEnvironmentVariableName()
    {
        foreach (var line in File.ReadAllLines(DeployFiles.PathOf("deploy/gateway.env")))
        {
            if (string.IsNullOrWhiteSpace(line) || line.StartsWith('#'))
            {
                continue;
            }

            Assert.Matches(DeployFiles.Setting(), line);
        }
    }

    [Fact]
    public void RunScript_ReadsTheFile()
    {
        Assert.Contains("deploy/gateway.env", DeployFiles.Read("scripts/run.sh"), StringComparison.Ordinal);
    }

    [Fact]
    public void EveryComposeGateway_NamesTheFile_AndRunsWithEverySetting()
    {
        var file = DeployFiles.ComposeFile();
        var config = DeployFiles.ComposeConfig();
        var gateways = DeployFiles.ComposeGateways(config).ToList();
        Assert.True(gateways.Count >= 2, "compose runs the gateway as two replicas at least");
        foreach (var (name, service) in gateways)
        {
            Assert.Equal("deploy/gateway.env", file["services"][name]["env_file"].Text);
            foreach (var (key, value) in DeployFiles.GatewayEnv())
            {
                Assert.Equal(value, service["environment"][key].Text);
            }
        }
    }

    [Theory]
    [MemberData(nameof(Overlays))]
    public void KubernetesConfigMap_CarriesEverySetting_WithTheSameValue(string overlay)
    {
        var objects = DeployFiles.Kustomize(overlay);
        var container = DeployFiles.GatewayContainer(DeployFiles.Object(objects, "Deployment"));
        var configMapName = Assert.Single(container["envFrom"].Items, s => s["configMapRef"].Exists)["configMapRef"]["name"].Text;
        var data = DeployFiles.Object(objects, "ConfigMap", configMapName)["data"];
        foreach (var (key, value) in DeployFiles.GatewayEnv())
        {
            Assert.Equal(value, data[key].Text);
        }
    }

    public static TheoryData<string> Overlays => new(DeployFiles.Overlays);
}
