using System.Runtime.InteropServices;

namespace Ingest.LoadTest.Engine;

/// <summary>
/// This process's limit on open file descriptors (<c>RLIMIT_NOFILE</c>, what <c>ulimit -n</c> shows):
/// every client connection is a descriptor, so a run of many connections needs the soft limit
/// raised, as far as the hard one allows. Child processes (the gateway that a bench starts)
/// inherit the soft limit in force when they start.
/// </summary>
internal static class DescriptorLimit
{
    private const int RlimitNofile = 7; // Linux

    /// <summary>The soft and hard limits; both <see cref="long.MaxValue"/> where there are none (not Linux).</summary>
    public static (long Soft, long Hard) Get()
    {
        if (!OperatingSystem.IsLinux() || GetRLimit(RlimitNofile, out var limit) != 0)
        {
            return (long.MaxValue, long.MaxValue);
        }

        return (Clamp(limit.Current), Clamp(limit.Maximum));
    }

    /// <summary>
    /// Raises the soft limit to the hard one when it is lower (the .NET runtime usually did so at
    /// start-up already). Returns the limits in force afterwards.
    /// </summary>
    public static (long Soft, long Hard) RaiseSoftToHard()
    {
        if (!OperatingSystem.IsLinux() || GetRLimit(RlimitNofile, out var limit) != 0)
        {
            return Get();
        }

        if (limit.Current < limit.Maximum)
        {
            var raised = new RLimit { Current = limit.Maximum, Maximum = limit.Maximum };
            _ = SetRLimit(RlimitNofile, ref raised); // when refused, the limits read below say so
        }

        return Get();
    }

    /// <summary>Descriptors this process holds now (entries of <c>/proc/self/fd</c>), or -1 when unknown.</summary>
    public static int OpenNow() => Count("/proc/self/fd");

    /// <summary>Descriptors process <paramref name="processId"/> holds now, or -1 when unknown.</summary>
    public static int OpenBy(int processId) => Count($"/proc/{processId}/fd");

    private static int Count(string folder)
    {
        try
        {
            return Directory.EnumerateFileSystemEntries(folder).Count();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return -1;
        }
    }

    private static long Clamp(ulong value) => value > long.MaxValue ? long.MaxValue : (long)value;

    [DllImport("libc", EntryPoint = "getrlimit", SetLastError = true)]
    private static extern int GetRLimit(int resource, out RLimit limit);

    [DllImport("libc", EntryPoint = "setrlimit", SetLastError = true)]
    private static extern int SetRLimit(int resource, ref RLimit limit);

    [StructLayout(LayoutKind.Sequential)]
    private struct RLimit
    {
        public ulong Current;
        public ulong Maximum;
    }
}
