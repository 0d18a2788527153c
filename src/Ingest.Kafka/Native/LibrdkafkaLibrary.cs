using System.Globalization;
using System.Runtime.InteropServices;
using System.Text.RegularExpressions;

namespace Ingest.Kafka.Native;

/// <summary>
/// The librdkafka native library that Confluent.Kafka loaded, for the project's own P/Invoke (the
/// mock cluster API). Confluent.Kafka tries <c>librdkafka.so</c> and then, on glibc Linux,
/// <c>centos8-librdkafka.so</c> from <c>librdkafka.redist</c>: on Debian the first needs
/// <c>libsasl2.so.3</c>, a RHEL soname, so the second is the one that loads. Binding the file found
/// in this process's memory map means the project never loads a second copy of librdkafka,
/// whichever file Confluent.Kafka chose.
/// </summary>
public static partial class LibrdkafkaLibrary
{
    private static readonly Lazy<LoadedLibrdkafka> Library = new(Load, LazyThreadSafetyMode.ExecutionAndPublication);

    /// <summary>
    /// The loaded library: its file and version. Loads it through Confluent.Kafka on first use.
    /// </summary>
    /// <exception cref="LibrdkafkaLoadException">No candidate file loads; the message says why in one line.</exception>
    public static LoadedLibrdkafka Loaded => Library.Value;

    /// <summary>Every distinct file mapped into this process whose name says it is librdkafka.</summary>
    public static IReadOnlyList<string> MappedFiles()
    {
        // /proc/self/maps: "address perms offset dev inode   pathname"; the path is the 6th field.
        var files = new SortedSet<string>(StringComparer.Ordinal);
        foreach (var line in File.ReadLines("/proc/self/maps"))
        {
            var slash = line.IndexOf('/', StringComparison.Ordinal);
            if (slash < 0)
            {
                continue;
            }

            var path = line[slash..].Trim();
            if (Path.GetFileName(path).Contains("librdkafka", StringComparison.Ordinal))
            {
                files.Add(path);
            }
        }

        return [.. files];
    }

    private static LoadedLibrdkafka Load()
    {
        if (!OperatingSystem.IsLinux())
        {
            throw new LibrdkafkaLoadException("librdkafka: the embedded broker supports Linux only (it reads /proc/self/maps to find the library Confluent.Kafka loaded)");
        }

        string version;
        try
        {
            // Confluent.Kafka loads its native library on first use, trying its own candidates in order.
            version = Confluent.Kafka.Library.VersionString;
        }
        catch (DllNotFoundException)
        {
            throw new LibrdkafkaLoadException(Diagnose());
        }

        var mapped = MappedFiles();
        if (mapped.Count != 1)
        {
            throw new LibrdkafkaLoadException(
                $"librdkafka {version} is loaded, but this process maps {mapped.Count} librdkafka files ({string.Join(", ", mapped)}); expected exactly one");
        }

        // The file is already mapped: the dynamic loader returns the handle of that same copy.
        var handle = NativeLibrary.Load(mapped[0]);
        return new LoadedLibrdkafka(mapped[0], version, handle);
    }

    /// <summary>
    /// Confluent.Kafka could not load any candidate: try each file it would have tried, to name the
    /// missing dependency of each, and say what to install. Nothing here stays loaded, as no
    /// candidate loads.
    /// </summary>
    private static string Diagnose()
    {
        var tried = new List<string>();
        var hints = new List<string>();
        foreach (var file in CandidateFiles())
        {
            try
            {
                var handle = NativeLibrary.Load(file);
                NativeLibrary.Free(handle);
                tried.Add($"{file} (loads when asked directly, yet Confluent.Kafka did not load it)");
            }
            catch (DllNotFoundException e)
            {
                var (reason, hint) = DescribeLoadFailure(e.Message);
                tried.Add($"{file} ({reason})");
                if (hint is not null && !hints.Contains(hint))
                {
                    hints.Add(hint);
                }
            }
        }

        if (tried.Count == 0)
        {
            return "librdkafka could not be loaded: no librdkafka file is in the application's native folders " +
                $"({string.Join(", ", SearchDirectories())}); restore the librdkafka.redist package (run scripts/setup.sh)";
        }

        hints.Add("run scripts/setup.sh, which builds librdkafka on this machine where no packaged binary loads");
        return $"librdkafka could not be loaded: tried {string.Join("; ", tried)}. To fix: {string.Join("; or ", hints)}";
    }

    /// <summary>The files Confluent.Kafka's loader tries, in its order: the default name, then the glibc fallback.</summary>
    private static IEnumerable<string> CandidateFiles()
    {
        string[] names = ["librdkafka.so", "centos8-librdkafka.so"];
        foreach (var name in names)
        {
            foreach (var directory in SearchDirectories())
            {
                var file = Path.Combine(directory, name);
                if (File.Exists(file))
                {
                    yield return Path.GetFullPath(file);
                }
            }
        }
    }

    /// <summary>The runtime's native search folders (from the app's deps.json), then the app folder.</summary>
    private static IEnumerable<string> SearchDirectories()
    {
        var configured = AppContext.GetData("NATIVE_DLL_SEARCH_DIRECTORIES") as string ?? "";
        return configured
            .Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Append(AppContext.BaseDirectory)
            .Append(Path.Combine(AppContext.BaseDirectory, "runtimes", "linux-x64", "native"))
            .Select(d => Path.GetFullPath(d).TrimEnd('/'))
            .Distinct(StringComparer.Ordinal);
    }

    /// <summary>
    /// Why a file did not load, from the loader's message (which ends with <c>dlerror()</c>), and what
    /// to install when a dependency is missing.
    /// </summary>
    internal static (string Reason, string? Hint) DescribeLoadFailure(string loaderMessage)
    {
        var missing = MissingDependency().Match(loaderMessage);
        if (!missing.Success)
        {
            return (FirstLine(loaderMessage), null);
        }

        var soname = missing.Groups["soname"].Value;
        return ($"needs {soname}, not found", InstallHint(soname));
    }

    /// <summary>What a Debian or Ubuntu user installs for a missing soname.</summary>
    internal static string InstallHint(string soname) => soname switch
    {
        _ when soname.StartsWith("libsasl2.so.3", StringComparison.Ordinal) =>
            "libsasl2.so.3 is the RHEL soname of Cyrus SASL (Debian and Ubuntu ship libsasl2.so.2): use a librdkafka built for this system rather than a symlink",
        _ when soname.StartsWith("libssl.so.3", StringComparison.Ordinal) || soname.StartsWith("libcrypto.so.3", StringComparison.Ordinal) =>
            "apt-get install libssl3",
        _ when soname.StartsWith("libz.so.1", StringComparison.Ordinal) => "apt-get install zlib1g",
        _ when soname.StartsWith("libzstd.so.1", StringComparison.Ordinal) => "apt-get install libzstd1",
        _ when soname.StartsWith("liblz4.so.1", StringComparison.Ordinal) => "apt-get install liblz4-1",
        _ when soname.StartsWith("libcurl.so.4", StringComparison.Ordinal) => "apt-get install libcurl4",
        _ when soname.StartsWith("libc.musl", StringComparison.Ordinal) => $"{soname} is musl's C library: that file is an Alpine build",
        _ => string.Create(CultureInfo.InvariantCulture, $"install the package that provides {soname} (apt-file search {soname})"),
    };

    private static string FirstLine(string text)
    {
        var end = text.IndexOfAny(['\r', '\n']);
        return end < 0 ? text : text[..end];
    }

    // dlerror(): "<dependency>: cannot open shared object file: No such file or directory".
    [GeneratedRegex(@"(?<soname>[^\s:/]+\.so[^\s:]*): cannot open shared object file")]
    private static partial Regex MissingDependency();
}

/// <summary>The librdkafka file in use and its version (as <c>rd_kafka_version_str()</c> reports it).</summary>
public sealed record LoadedLibrdkafka(string Path, string Version, nint Handle);

/// <summary>No librdkafka file could be loaded; <see cref="Exception.Message"/> is one line that says why and what to do.</summary>
public sealed class LibrdkafkaLoadException : Exception
{
    public LibrdkafkaLoadException()
    {
    }

    public LibrdkafkaLoadException(string message)
        : base(message)
    {
    }

    public LibrdkafkaLoadException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
