using System.Runtime.InteropServices;

namespace Ingest.Gateway.Configuration;

/// <summary>
/// How many connections of each kind the process serves, derived from its file descriptor limit
/// (<c>RLIMIT_NOFILE</c>) so that accepting connections can never run it out of descriptors
/// (docs/operations.md, "Limits"). Kestrel counts upgraded connections apart from the others, so
/// the descriptors are split: <see cref="WebSockets"/> (plus a small <see cref="UpgradeMargin"/> for
/// sockets still closing) and <see cref="Http"/> for every other request, handshakes in progress
/// included.
/// </summary>
internal sealed partial record ConnectionLimits(long Descriptors, int Total, int WebSockets, int Http)
{
    /// <summary>Upgraded sockets Kestrel may still count after their WebSocket slot was given back.</summary>
    public const int UpgradeMargin = 32;

    /// <summary>Plain HTTP connections kept when the WebSocket limit is derived.</summary>
    public const int DefaultHttp = 512;

    /// <summary>Fewest plain HTTP connections a configuration may leave (probes, <c>/stats</c>).</summary>
    public const int MinimumHttp = 16;

    /// <summary>The limits for <paramref name="options"/> in a process that may hold <paramref name="descriptors"/> descriptors.</summary>
    /// <exception cref="ConfigurationException">The configured limits do not fit.</exception>
    public static ConnectionLimits For(IngestOptions options, long descriptors)
    {
        var reserved = options.Limits.ReservedDescriptors;
        var available = (int)Math.Min(descriptors - reserved, int.MaxValue);
        if (available < DefaultHttp)
        {
            throw new ConfigurationException(
                $"Ingest:Limits:ReservedDescriptors ({reserved}) leaves {available} of the process's {descriptors} file descriptors for connections; raise the limit (ulimit -n) or lower the reserve");
        }

        var total = options.Limits.MaxConnections ?? available;
        if (total > available)
        {
            throw new ConfigurationException(
                $"Ingest:Limits:MaxConnections ({total}) does not fit the process's file descriptor limit ({descriptors}) less Ingest:Limits:ReservedDescriptors ({reserved}): at most {available}");
        }

        var webSockets = options.WebSocket.MaxConnections ?? Math.Max(1, total - DefaultHttp - UpgradeMargin);
        var http = total - webSockets - UpgradeMargin;
        if (http < MinimumHttp)
        {
            throw new ConfigurationException(
                $"Ingest:WebSocket:MaxConnections ({webSockets}) leaves {http} of Ingest:Limits:MaxConnections ({total}) for other HTTP connections; at most {total - UpgradeMargin - MinimumHttp}");
        }

        return new ConnectionLimits(descriptors, total, webSockets, http);
    }

    /// <summary>The calling process's soft limit on open file descriptors.</summary>
    public static long ProcessDescriptorLimit()
    {
        if (!OperatingSystem.IsLinux())
        {
            return int.MaxValue;
        }

        return Native.GetRLimit(Native.RlimitNofile, out var limit) == 0 ? (long)Math.Min(limit.Current, int.MaxValue) : 1_024;
    }

    private static partial class Native
    {
        public const int RlimitNofile = 7; // Linux; the gateway runs on linux-x64

        [LibraryImport("libc", EntryPoint = "getrlimit", SetLastError = true)]
        public static partial int GetRLimit(int resource, out RLimit limit);

        [StructLayout(LayoutKind.Sequential)]
        public struct RLimit
        {
            public ulong Current;
            public ulong Maximum;
        }
    }
}
