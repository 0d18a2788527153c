using System.Diagnostics;

namespace Ingest.LoadTest.Bench;

/// <summary>This harness started again as a child process (the raw producer, the abuse flood), with its standard streams redirected.</summary>
internal static class HarnessProcess
{
    public static ProcessStartInfo StartInfo(params string[] arguments)
    {
        var harness = typeof(HarnessProcess).Assembly.Location;
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            UseShellExecute = false,
            WorkingDirectory = Path.GetDirectoryName(harness)!,
        };
        start.ArgumentList.Add(harness);
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        return start;
    }
}
