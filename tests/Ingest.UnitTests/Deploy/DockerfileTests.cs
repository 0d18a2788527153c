using System.Text.RegularExpressions;
using System.Xml.Linq;

namespace Ingest.UnitTests.Deploy;

/// <summary>
/// <c>deploy/Dockerfile</c>, read instruction by instruction (no engine builds it here): each
/// image starts the assembly its project builds, as a non-root user; base images are pinned; the
/// build stage copies every project the two images need; each runtime stage proves that
/// librdkafka loads on its image.
/// </summary>
public sealed partial class DockerfileTests
{
    public static TheoryData<string, string> Images => new()
    {
        { "gateway", "src/Ingest.Gateway/Ingest.Gateway.csproj" },
        { "listener", "src/Ingest.Listener/Ingest.Listener.csproj" },
    };

    [Theory]
    [MemberData(nameof(Images))]
    public void Entrypoint_StartsTheAssemblyTheProjectBuilds(string stage, string project)
    {
        var built = stage == "gateway" ? typeof(Ingest.Gateway.GatewayApp).Assembly : typeof(Ingest.Listener.ListenerOptions).Assembly;
        var assemblyName = XDocument.Load(DeployFiles.PathOf(project)).Descendants("AssemblyName").SingleOrDefault()?.Value
            ?? Path.GetFileNameWithoutExtension(project);

        Assert.Equal(built.GetName().Name, assemblyName);
        Assert.Equal(["dotnet", $"{assemblyName}.dll"], DeployFiles.DockerfileExec(stage, "ENTRYPOINT"));
        var publish = Assert.Single(DeployFiles.DockerfileStage("build"), i => i.Instruction == "RUN" && i.Arguments.Contains($"publish {project}", StringComparison.Ordinal));
        var output = Regex.Match(publish.Arguments, $@"publish {Regex.Escape(project)} .*?-o (\S+)").Groups[1].Value;
        Assert.Contains(DeployFiles.DockerfileStage(stage), i => i.Instruction == "COPY" && i.Arguments == $"--from=build {output} ./");
    }

    [Theory]
    [MemberData(nameof(Images))]
    public void Image_RunsAsTheImagesAppUser_AndProvesLibrdkafkaLoads(string stage, string project)
    {
        var instructions = DeployFiles.DockerfileStage(stage);

        Assert.Equal("$APP_UID", instructions.Last(i => i.Instruction == "USER").Arguments);
        var assembly = Path.GetFileNameWithoutExtension(project) + ".dll";
        var check = stage == "gateway" ? $"dotnet {assembly} --check-librdkafka" : $"dotnet {assembly} --bootstrap 127.0.0.1:";
        Assert.Contains(instructions, i => i.Instruction == "RUN" && i.Arguments.StartsWith(check, StringComparison.Ordinal));
        Assert.Contains("dotnet \"$root/src/Ingest.Gateway/bin/Release/net10.0/Ingest.Gateway.dll\" --check-librdkafka", DeployFiles.Read("scripts/lib/librdkafka.sh"), StringComparison.Ordinal);
    }

    [Fact]
    public void Gateway_StartsOnThePortItExposes_WithAHealthCheck()
    {
        var instructions = DeployFiles.DockerfileStage("gateway");
        var port = ComposeTests.ImagePort();

        Assert.Equal(["--urls", $"http://0.0.0.0:{port}"], DeployFiles.DockerfileExec("gateway", "CMD"));
        Assert.Contains(instructions, i => i.Instruction == "EXPOSE" && i.Arguments == $"{port}");
        Assert.Contains($"/dev/tcp/127.0.0.1/{port}", string.Join(' ', DeployFiles.DockerfileHealthCheck("gateway")), StringComparison.Ordinal);
        Assert.Equal("SIGTERM", Assert.Single(instructions, i => i.Instruction == "STOPSIGNAL").Arguments);
    }

    [Fact]
    public void Gateway_TakesItsRuntimeSettingsFromTheBuild_AndItsEnvironmentFromGatewayEnvAlone()
    {
        // TieredPGO off and workstation concurrent GC come with the build (runtimeconfig.json), so
        // the image has them; the process environment is deploy/gateway.env's, which compose and the
        // ConfigMap carry, so the image must not set one of its own beside it.
        using var runtimeConfig = System.Text.Json.JsonDocument.Parse(File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Ingest.Gateway.runtimeconfig.json")));
        var properties = runtimeConfig.RootElement.GetProperty("runtimeOptions").GetProperty("configProperties");

        Assert.False(properties.GetProperty("System.Runtime.TieredPGO").GetBoolean());
        Assert.False(properties.GetProperty("System.GC.Server").GetBoolean());
        Assert.True(properties.GetProperty("System.GC.Concurrent").GetBoolean());
        Assert.DoesNotContain(DeployFiles.DockerfileStage("gateway"), i => i.Instruction == "ENV");
        Assert.Contains(DeployFiles.DockerfileStage("build"), i => i.Instruction == "RUN" && i.Arguments.Contains("-p:PublishReadyToRun=true", StringComparison.Ordinal) && i.Arguments.Contains("publish src/Ingest.Gateway/", StringComparison.Ordinal));
    }

    [Fact]
    public void BaseImages_ArePinned_ThroughBuildArguments()
    {
        var arguments = File.ReadLines(DeployFiles.PathOf("deploy/Dockerfile"))
            .Select(line => BuildArgument().Match(line))
            .Where(m => m.Success)
            .ToDictionary(m => m.Groups["name"].Value, m => m.Groups["value"].Value);
        var froms = File.ReadLines(DeployFiles.PathOf("deploy/Dockerfile")).Where(l => l.StartsWith("FROM ", StringComparison.Ordinal)).ToList();

        Assert.Equal(3, froms.Count);
        foreach (var from in froms)
        {
            var argument = Regex.Match(from, @"^FROM \$\{(?<name>\w+)\} AS ").Groups["name"].Value;
            Assert.True(arguments.TryGetValue(argument, out var image), $"'{from}' does not take its image from a build argument");
            Assert.Matches(@"^mcr\.microsoft\.com/dotnet/[a-z]+:10\.0\.\d+-noble$", image);
        }
    }

    [Fact]
    public void BuildStage_CopiesEveryProjectTheImagesNeed_BeforeRestoring()
    {
        var build = DeployFiles.DockerfileStage("build");
        var needed = new HashSet<string>(StringComparer.Ordinal);
        var pending = new Queue<string>(["src/Ingest.Gateway/Ingest.Gateway.csproj", "src/Ingest.Listener/Ingest.Listener.csproj"]);
        while (pending.TryDequeue(out var project))
        {
            if (!needed.Add(project))
            {
                continue;
            }

            foreach (var reference in XDocument.Load(DeployFiles.PathOf(project)).Descendants("ProjectReference"))
            {
                var path = Path.GetRelativePath(DeployFiles.Root, Path.GetFullPath(Path.Combine(DeployFiles.Root, Path.GetDirectoryName(project)!, reference.Attribute("Include")!.Value)));
                pending.Enqueue(path.Replace('\\', '/'));
            }
        }

        var restore = build.ToList().FindIndex(i => i.Instruction == "RUN" && i.Arguments.Contains("dotnet restore", StringComparison.Ordinal));
        foreach (var project in needed)
        {
            var directory = Path.GetDirectoryName(project)!.Replace('\\', '/');
            var copy = build.ToList().FindIndex(i => i.Instruction == "COPY" && i.Arguments == $"{project} {directory}/");
            Assert.True(copy >= 0 && copy < restore, $"{project} is not copied before the restore");
            Assert.Contains(build, i => i.Instruction == "COPY" && i.Arguments == $"{directory}/ {directory}/");
        }
    }

    [GeneratedRegex(@"^ARG (?<name>\w+)=(?<value>\S+)$")]
    private static partial Regex BuildArgument();
}
