using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text.Json;
using System.Text.RegularExpressions;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace Ingest.UnitTests.Deploy;

/// <summary>
/// The deployment files as their tools see them: <c>docker-compose.yml</c> rendered by
/// <c>docker-compose config</c> (Debian's v1 tool, which needs no engine), the Kubernetes overlays
/// rendered by <c>kubectl kustomize</c>, <c>deploy/Dockerfile</c> read instruction by instruction,
/// and <c>deploy/gateway.env</c>. <c>scripts/setup.sh --tests</c> installs the tools. Compiled into
/// the integration tests too, which start a gateway with the environment found here.
/// </summary>
internal static partial class DeployFiles
{
    public static readonly string Root = FindRoot();

    /// <summary>Each tool's rendering, once per test run (docker-compose takes seconds to start).</summary>
    private static readonly ConcurrentDictionary<string, Lazy<string>> Rendered = new(StringComparer.Ordinal);

    /// <summary>The overlays of <c>deploy/kubernetes/overlays</c>.</summary>
    public static readonly string[] Overlays = ["dev", "prod"];

    public static string PathOf(string relative) => Path.Combine(Root, relative);

    public static string Read(string relative) => File.ReadAllText(PathOf(relative));

    /// <summary>Runs a tool from the repository root; fails the test with its output when it fails.</summary>
    public static string Run(string tool, params string[] arguments)
    {
        var (exitCode, output, errors) = TryRun(tool, arguments);
        Assert.True(exitCode == 0, $"{tool} {string.Join(' ', arguments)} exited {exitCode}:\n{errors}\n{output}");
        return output;
    }

    /// <summary>Runs a tool from the repository root, without the variables that would change what compose renders.</summary>
    public static (int ExitCode, string Output, string Errors) TryRun(string tool, params string[] arguments)
    {
        var start = new ProcessStartInfo(tool)
        {
            WorkingDirectory = Root,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        foreach (var variable in new[] { "COMPOSE_PROFILES", "COMPOSE_FILE", "COMPOSE_PROJECT_NAME", "INGEST_SUBNET" })
        {
            start.Environment.Remove(variable);
        }

        Process process;
        try
        {
            process = Process.Start(start)!;
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            throw new InvalidOperationException($"{tool} is not installed ({e.Message}): bash scripts/setup.sh --tests installs the deploy tests' tools", e);
        }

        using (process)
        {
            var output = process.StandardOutput.ReadToEndAsync(TestContext.Current.CancellationToken);
            var errors = process.StandardError.ReadToEndAsync(TestContext.Current.CancellationToken);
            if (!process.WaitForExit(TimeSpan.FromMinutes(2)))
            {
                process.Kill(entireProcessTree: true);
                throw new TimeoutException($"{tool} {string.Join(' ', arguments)} did not finish within 2 minutes");
            }

            return (process.ExitCode, output.GetAwaiter().GetResult(), errors.GetAwaiter().GetResult());
        }
    }

    /// <summary>
    /// <c>docker-compose config</c>: the file as compose runs it (env_file read, anchors merged,
    /// paths absolute). It lists every service, whatever its profiles: <see cref="ActiveServices"/>
    /// picks those a set of profiles runs.
    /// </summary>
    public static YamlValue ComposeConfig() => YamlValue.Parse(Rendered.GetOrAdd("compose", _ => new Lazy<string>(() => Run("docker-compose", "-f", "docker-compose.yml", "config"))).Value).Single();

    /// <summary>The services compose starts with these profiles: those without profiles, and those in one of them.</summary>
    public static IReadOnlyList<(string Name, YamlValue Service)> ActiveServices(YamlValue config, params string[] profiles) =>
        config["services"].Entries
            .Where(s => s.Value["profiles"].Items.Count == 0 || s.Value["profiles"].Items.Any(p => profiles.Contains(p.Text)))
            .Select(s => (s.Key, s.Value))
            .ToList();

    /// <summary>docker-compose.yml as written (merge keys resolved), for what rendering drops, such as env_file.</summary>
    public static YamlValue ComposeFile() => YamlValue.Parse(Read("docker-compose.yml")).Single();

    /// <summary>The gateway services of a rendered compose file: those built from the Dockerfile's gateway target.</summary>
    public static IEnumerable<(string Name, YamlValue Service)> ComposeGateways(YamlValue config) =>
        config["services"].Entries.Where(s => s.Value["build"]["target"].Text == "gateway").Select(s => (s.Key, s.Value));

    /// <summary>The objects of an overlay (or of the base) as <c>kubectl kustomize</c> renders them.</summary>
    public static IReadOnlyList<YamlValue> Kustomize(string overlay) =>
        YamlValue.Parse(Rendered.GetOrAdd(overlay, o => new Lazy<string>(() => Run("kubectl", "kustomize", o == "base" ? "deploy/kubernetes/base" : $"deploy/kubernetes/overlays/{o}"))).Value);

    public static YamlValue Object(IReadOnlyList<YamlValue> objects, string kind, string? name = null)
    {
        var matches = objects.Where(o => o["kind"].Text == kind && (name is null || o["metadata"]["name"].Text == name)).ToList();
        Assert.True(matches.Count == 1, $"expected one {kind}{(name is null ? "" : $" named {name}")}, found {matches.Count}");
        return matches[0];
    }

    /// <summary>The gateway container of the rendered Deployment.</summary>
    public static YamlValue GatewayContainer(YamlValue deployment) =>
        Assert.Single(deployment["spec"]["template"]["spec"]["containers"].Items, c => c["name"].Text == "gateway");

    /// <summary>
    /// The environment the pod's gateway container gets: its ConfigMap, with <paramref name="withSecret"/>
    /// its Secret (base64-decoded), then its own <c>env</c> entries (<c>metadata.name</c> is <paramref name="podName"/>).
    /// </summary>
    public static Dictionary<string, string> PodEnvironment(IReadOnlyList<YamlValue> objects, bool withSecret, string podName)
    {
        var container = GatewayContainer(Object(objects, "Deployment"));
        var environment = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var source in container["envFrom"].Items)
        {
            if (source["configMapRef"].Exists)
            {
                foreach (var (key, value) in Object(objects, "ConfigMap", source["configMapRef"]["name"].Text)["data"].Entries)
                {
                    environment[key] = value.Text ?? "";
                }
            }
            else if (source["secretRef"].Exists && withSecret)
            {
                foreach (var (key, value) in Object(objects, "Secret", source["secretRef"]["name"].Text)["data"].Entries)
                {
                    environment[key] = System.Text.Encoding.UTF8.GetString(Convert.FromBase64String(value.Text ?? ""));
                }
            }
        }

        foreach (var variable in container["env"].Items)
        {
            var field = variable["valueFrom"]["fieldRef"]["fieldPath"].Text;
            Assert.True(variable["value"].Exists || field == "metadata.name", $"env {variable["name"].Text}: the test knows literal values and metadata.name only");
            environment[variable["name"].Text!] = variable["value"].Text ?? podName;
        }

        return environment;
    }

    /// <summary>The KEY=value lines of <c>deploy/gateway.env</c>.</summary>
    public static IReadOnlyList<(string Key, string Value)> GatewayEnv() =>
        File.ReadAllLines(PathOf("deploy/gateway.env"))
            .Select(line => Setting().Match(line))
            .Where(m => m.Success)
            .Select(m => (m.Groups["key"].Value, m.Groups["value"].Value))
            .ToList();

    [GeneratedRegex(@"^(?<key>[A-Za-z_][A-Za-z0-9_]*)=(?<value>[^\s]*)$")]
    public static partial Regex Setting();

    /// <summary>The instructions of one stage of <c>deploy/Dockerfile</c> (continuation lines joined).</summary>
    public static IReadOnlyList<(string Instruction, string Arguments)> DockerfileStage(string stage)
    {
        var instructions = new List<(string, string)>();
        string? current = null;
        var logical = new List<string>();
        var pending = "";
        foreach (var raw in File.ReadAllLines(PathOf("deploy/Dockerfile")))
        {
            var line = raw.TrimEnd();
            if (pending.Length == 0 && (line.Length == 0 || line.TrimStart().StartsWith('#')))
            {
                continue;
            }

            if (line.EndsWith('\\'))
            {
                pending += line[..^1] + " ";
                continue;
            }

            logical.Add(pending + line);
            pending = "";
        }

        foreach (var line in logical)
        {
            var space = line.IndexOf(' ', StringComparison.Ordinal);
            var instruction = line[..space].ToUpperInvariant();
            var arguments = line[(space + 1)..].Trim();
            if (instruction == "FROM")
            {
                current = FromStage().Match(arguments) is { Success: true } m ? m.Groups["stage"].Value : null;
                continue;
            }

            if (current == stage)
            {
                instructions.Add((instruction, arguments));
            }
        }

        Assert.True(instructions.Count > 0, $"deploy/Dockerfile has no stage {stage}");
        return instructions;
    }

    /// <summary>An exec-form (JSON array) instruction of a stage, e.g. ENTRYPOINT or CMD.</summary>
    public static string[] DockerfileExec(string stage, string instruction)
    {
        var (_, arguments) = Assert.Single(DockerfileStage(stage), i => i.Instruction == instruction);
        return JsonSerializer.Deserialize<string[]>(arguments)!;
    }

    /// <summary>The command of the gateway stage's HEALTHCHECK (exec form, after its options).</summary>
    public static string[] DockerfileHealthCheck(string stage)
    {
        var (_, arguments) = Assert.Single(DockerfileStage(stage), i => i.Instruction == "HEALTHCHECK");
        var command = arguments[(arguments.IndexOf(" CMD ", StringComparison.Ordinal) + " CMD ".Length)..];
        return JsonSerializer.Deserialize<string[]>(command)!;
    }

    [GeneratedRegex(@"\bAS\s+(?<stage>[A-Za-z0-9_-]+)\s*$", RegexOptions.IgnoreCase)]
    private static partial Regex FromStage();

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
}

/// <summary>A parsed YAML node; a missing key gives a value that does not exist, so paths read without checks.</summary>
internal sealed class YamlValue
{
    private static readonly YamlValue Missing = new(null);
    private readonly YamlNode? _node;

    private YamlValue(YamlNode? node) => _node = node;

    public bool Exists => _node is not null;

    /// <summary>A scalar's text; null for a mapping, a sequence, a missing value or YAML null.</summary>
    public string? Text => _node is YamlScalarNode scalar && !(scalar.Style == ScalarStyle.Plain && scalar.Value is "null" or "~") ? scalar.Value : null;

    public YamlValue this[string key] =>
        _node is YamlMappingNode mapping && mapping.Children.TryGetValue(new YamlScalarNode(key), out var child) ? new YamlValue(child) : Missing;

    public IReadOnlyList<YamlValue> Items => _node is YamlSequenceNode sequence ? sequence.Children.Select(c => new YamlValue(c)).ToList() : [];

    public IReadOnlyList<KeyValuePair<string, YamlValue>> Entries =>
        _node is YamlMappingNode mapping
            ? mapping.Children.Select(c => KeyValuePair.Create(((YamlScalarNode)c.Key).Value!, new YamlValue(c.Value))).ToList()
            : [];

    /// <summary>Every document of <paramref name="text"/>, with merge keys (<c>&lt;&lt;: *anchor</c>) resolved.</summary>
    public static IReadOnlyList<YamlValue> Parse(string text)
    {
        var stream = new YamlStream();
        stream.Load(new MergingParser(new Parser(new StringReader(text))));
        return stream.Documents.Where(d => d.RootNode is not YamlScalarNode { Value: null or "" }).Select(d => new YamlValue(d.RootNode)).ToList();
    }

    public override string ToString() => _node?.ToString() ?? "(missing)";
}
