using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text.RegularExpressions;

namespace Ingest.LoadTest.Bench;

/// <summary>
/// The environment variables a gateway is started with: <c>deploy/gateway.env</c> of the repository
/// (<c>KEY=value</c> lines; blank lines and <c>#</c> comments ignored), the file every way of
/// starting the gateway reads, e.g. <c>LD_PRELOAD</c> of an allocator or <c>DOTNET_TieredPGO</c>.
/// The bench applies the same file, so that what it measures is what is deployed; <c>--gateway-env
/// none</c> (or another file) gives the other side of an A/B run.
/// </summary>
/// <remarks>
/// A variable that names files to load (<c>LD_PRELOAD</c>, <c>LD_AUDIT</c>, <c>DOTNET_STARTUP_HOOKS</c>)
/// is applied only when every file it names exists: a missing preload library would otherwise be
/// dropped by the loader with a line on stderr (or, for a startup hook, stop the runtime), and the
/// bench would measure something else than it says. Such a variable is reported and skipped.
/// </remarks>
internal sealed partial record GatewayEnvironment
{
    /// <summary>The value of <c>--gateway-env</c> that applies no file.</summary>
    public const string NoneOption = "none";

    /// <summary>The file's place in the repository.</summary>
    public static readonly string RelativePath = Path.Combine("deploy", "gateway.env");

    private static readonly Lazy<GatewayEnvironment> DefaultEnvironment = new(() => Load(null));

    /// <summary>No variables: started with the harness's own environment.</summary>
    public static GatewayEnvironment None { get; } = new() { Description = $"none (--gateway-env {NoneOption})" };

    /// <summary>The repository's <c>deploy/gateway.env</c>, read once; no variables when it does not exist.</summary>
    public static GatewayEnvironment Default => DefaultEnvironment.Value;

    /// <summary>The file the variables came from; null when none was read.</summary>
    public string? SourceFile { get; init; }

    /// <summary>Where the variables came from, for the report: the file, or why there is none.</summary>
    public string Description { get; init; } = "";

    /// <summary>The variables applied, in the file's order.</summary>
    public IReadOnlyList<KeyValuePair<string, string>> Applied { get; init; } = [];

    /// <summary>What was left out and why, one line each.</summary>
    public IReadOnlyList<string> Skipped { get; init; } = [];

    /// <summary>
    /// The environment for <c>--gateway-env</c>: null = the repository's <c>deploy/gateway.env</c>
    /// (none when it does not exist), <c>none</c> = no file, otherwise the file at that path, which
    /// must exist.
    /// </summary>
    public static GatewayEnvironment Load(string? option)
    {
        if (string.Equals(option, NoneOption, StringComparison.OrdinalIgnoreCase))
        {
            return None;
        }

        if (option is not null)
        {
            var path = Path.GetFullPath(option);
            return File.Exists(path)
                ? Parse(File.ReadAllLines(path), path, FileExists)
                : throw new FileNotFoundException($"--gateway-env: {path} does not exist (pass '{NoneOption}' to start the gateway without an environment file).", path);
        }

        var root = FindRepositoryRoot();
        if (root is null)
        {
            return new GatewayEnvironment { Description = $"none (no Ingest.sln above {Environment.CurrentDirectory} or {AppContext.BaseDirectory}, so no {RelativePath})" };
        }

        var file = Path.Combine(root, RelativePath);
        return File.Exists(file)
            ? Parse(File.ReadAllLines(file), file, FileExists)
            : new GatewayEnvironment { Description = $"none ({file} does not exist)" };
    }

    /// <summary>
    /// Reads <c>KEY=value</c> lines. Blank lines and lines starting with <c>#</c> are ignored, as is
    /// <c>export </c> before a key; a value in matching quotes loses them; an unquoted value ends at
    /// <c> #</c> (a comment after it, as shells and Compose read it); a later line for the same key
    /// wins. <paramref name="fileExists"/> decides whether a file named by a loader variable is there.
    /// </summary>
    public static GatewayEnvironment Parse(IEnumerable<string> lines, string source, Func<string, bool> fileExists)
    {
        var applied = new List<KeyValuePair<string, string>>();
        var skipped = new List<string>();
        var number = 0;
        foreach (var raw in lines)
        {
            number++;
            var line = raw.Trim();
            if (line.Length == 0 || line.StartsWith('#'))
            {
                continue;
            }

            if (line.StartsWith("export ", StringComparison.Ordinal))
            {
                line = line["export ".Length..].TrimStart();
            }

            var equals = line.IndexOf('=', StringComparison.Ordinal);
            var key = equals < 0 ? "" : line[..equals].Trim();
            if (!KeyPattern().IsMatch(key))
            {
                skipped.Add($"line {number}: '{line}' is not KEY=value");
                continue;
            }

            var value = Unquote(line[(equals + 1)..].Trim());
            applied.RemoveAll(p => p.Key == key);
            var missing = MissingFile(key, value, fileExists);
            if (missing is not null)
            {
                skipped.Add($"{key}={value}: {missing}, not applied");
                continue;
            }

            applied.Add(new(key, value));
        }

        return new GatewayEnvironment { SourceFile = source, Description = source, Applied = applied, Skipped = skipped };
    }

    /// <summary>Sets the variables on a process about to start (on top of the environment it inherits).</summary>
    public void ApplyTo(ProcessStartInfo start)
    {
        foreach (var (key, value) in Applied)
        {
            start.Environment[key] = value;
        }
    }

    /// <summary>One line for logs and the report: the source, what was applied, what was skipped.</summary>
    public string Summary()
    {
        var applied = Applied.Count == 0 ? "no variables" : string.Join(", ", Applied.Select(p => $"{p.Key}={p.Value}"));
        var summary = SourceFile is null ? Description : $"{SourceFile}: {applied}";
        return Skipped.Count == 0 ? summary : $"{summary}; SKIPPED: {string.Join("; ", Skipped)}";
    }

    /// <summary>
    /// The directory holding <c>Ingest.sln</c>, looking up from the current directory, then from
    /// this executable's directory (<c>dotnet run</c> from elsewhere, or a copied build).
    /// </summary>
    public static string? FindRepositoryRoot()
    {
        foreach (var start in new[] { Environment.CurrentDirectory, AppContext.BaseDirectory })
        {
            for (var directory = new DirectoryInfo(start); directory is not null; directory = directory.Parent)
            {
                if (File.Exists(Path.Combine(directory.FullName, "Ingest.sln")))
                {
                    return directory.FullName;
                }
            }
        }

        return null;
    }

    /// <summary>Why a loader variable cannot be applied (a file it names is not there), or null.</summary>
    private static string? MissingFile(string key, string value, Func<string, bool> fileExists)
    {
        var separators = key switch
        {
            // ld.so splits LD_PRELOAD at colons and spaces, LD_AUDIT at colons.
            "LD_PRELOAD" => new[] { ':', ' ' },
            "LD_AUDIT" => [':'],
            // Paths of assemblies; a bare assembly name cannot be checked here.
            "DOTNET_STARTUP_HOOKS" => [Path.PathSeparator],
            _ => null,
        };
        if (separators is null)
        {
            return null;
        }

        foreach (var entry in value.Split(separators, StringSplitOptions.RemoveEmptyEntries))
        {
            // $ORIGIN, $LIB and $PLATFORM are the loader's to expand.
            if (entry.Contains('$', StringComparison.Ordinal))
            {
                continue;
            }

            if (entry.Contains('/', StringComparison.Ordinal))
            {
                if (!fileExists(entry))
                {
                    return $"{entry} does not exist";
                }
            }
            else if (key != "DOTNET_STARTUP_HOOKS" && !LibraryDirectories().Any(d => fileExists(Path.Combine(d, entry))))
            {
                return $"{entry} is in none of {string.Join(", ", LibraryDirectories())}";
            }
        }

        return null;
    }

    /// <summary>Where ld.so finds a library named without a path: LD_LIBRARY_PATH and the usual Debian directories.</summary>
    private static IEnumerable<string> LibraryDirectories()
    {
        var triplet = RuntimeInformation.OSArchitecture == Architecture.Arm64 ? "aarch64-linux-gnu" : "x86_64-linux-gnu";
        var fromEnvironment = (Environment.GetEnvironmentVariable("LD_LIBRARY_PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries);
        return fromEnvironment.Concat([$"/lib/{triplet}", $"/usr/lib/{triplet}", "/lib", "/usr/lib", "/lib64", "/usr/lib64", "/usr/local/lib"]);
    }

    private static string Unquote(string value)
    {
        if (value.Length >= 2 && (value[0] == '"' || value[0] == '\'') && value[^1] == value[0])
        {
            return value[1..^1];
        }

        var comment = value.IndexOf(" #", StringComparison.Ordinal);
        return comment < 0 ? value : value[..comment].TrimEnd();
    }

    private static bool FileExists(string path) => File.Exists(path);

    [GeneratedRegex("^[A-Za-z_][A-Za-z0-9_]*$")]
    private static partial Regex KeyPattern();
}
