namespace Ingest.UnitTests.Deploy;

/// <summary>Every YAML file of the repository passes yamllint with the repository's <c>.yamllint</c>, warnings included.</summary>
public sealed class YamlLintTests
{
    private static readonly string[] Skipped = ["bin", "obj", "node_modules", ".cache", ".git"];

    [Fact]
    public void EveryYamlFile_PassesYamllint()
    {
        var output = DeployFiles.Run("yamllint", "--strict", "--format", "parsable", ".");

        Assert.Equal("", output.Trim());
    }

    [Fact]
    public void Yamllint_SeesEveryYamlFile()
    {
        var linted = DeployFiles.Run("yamllint", "--list-files", ".")
            .Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(f => Path.GetFullPath(Path.Combine(DeployFiles.Root, f)))
            .ToHashSet(StringComparer.Ordinal);

        var files = YamlFiles(new DirectoryInfo(DeployFiles.Root)).ToList();
        Assert.Contains(DeployFiles.PathOf("docker-compose.yml"), files);
        Assert.Contains(DeployFiles.PathOf("deploy/kubernetes/base/deployment.yaml"), files);
        foreach (var file in files)
        {
            Assert.True(linted.Contains(file), $"yamllint does not look at {file}");
        }
    }

    private static IEnumerable<string> YamlFiles(DirectoryInfo directory)
    {
        foreach (var file in directory.EnumerateFiles())
        {
            if (file.Extension is ".yml" or ".yaml")
            {
                yield return file.FullName;
            }
        }

        foreach (var child in directory.EnumerateDirectories().Where(d => !Skipped.Contains(d.Name)))
        {
            foreach (var file in YamlFiles(child))
            {
                yield return file;
            }
        }
    }
}
