using System.Globalization;

namespace Ingest.LoadTest.Bench;

/// <summary>Reads a process's resident memory and CPU time from <c>/proc</c> (Linux), from outside.</summary>
internal static class ProcessProbe
{
    /// <summary>Clock ticks per second of <c>/proc/&lt;pid&gt;/stat</c> (USER_HZ, 100 on Linux).</summary>
    private const double TicksPerSecond = 100;

    /// <summary>VmRSS in bytes, or -1 when unavailable.</summary>
    public static long ResidentBytes(int processId)
    {
        try
        {
            foreach (var line in File.ReadLines($"/proc/{processId}/status"))
            {
                if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
                {
                    var kb = line["VmRSS:".Length..].Trim().Split(' ')[0];
                    return long.Parse(kb, CultureInfo.InvariantCulture) * 1024;
                }
            }
        }
        catch (IOException)
        {
        }

        return -1;
    }

    /// <summary>The process's threads (<c>Threads:</c> of <c>/proc/&lt;pid&gt;/status</c>), or -1 when unavailable.</summary>
    public static int Threads(int processId)
    {
        try
        {
            foreach (var line in File.ReadLines($"/proc/{processId}/status"))
            {
                if (line.StartsWith("Threads:", StringComparison.Ordinal))
                {
                    return int.Parse(line["Threads:".Length..].Trim(), CultureInfo.InvariantCulture);
                }
            }
        }
        catch (IOException)
        {
        }

        return -1;
    }

    /// <summary>Open descriptors (entries of <c>/proc/&lt;pid&gt;/fd</c>), or -1 when unavailable.</summary>
    public static int Descriptors(int processId)
    {
        try
        {
            return Directory.EnumerateFileSystemEntries($"/proc/{processId}/fd").Count();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return -1;
        }
    }

    /// <summary>User + system CPU time, or zero when unavailable.</summary>
    public static TimeSpan CpuTime(int processId)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{processId}/stat");
            // Field 2 (comm) may hold spaces; fields after its closing parenthesis are fixed.
            var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            var utime = long.Parse(fields[11], CultureInfo.InvariantCulture);
            var stime = long.Parse(fields[12], CultureInfo.InvariantCulture);
            return TimeSpan.FromSeconds((utime + stime) / TicksPerSecond);
        }
        catch (IOException)
        {
            return TimeSpan.Zero;
        }
    }
}
