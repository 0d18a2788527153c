using System.Diagnostics;
using System.Globalization;

namespace Ingest.LoadTest.Bench;

/// <summary>
/// The <c>abuse</c> command's bad clients in a child process of this harness
/// (<c>abuse --flood-url</c>), so that their send loops do not compete with the measured clients
/// for this process's thread pool.
/// </summary>
internal sealed class FloodProcess : IAsyncDisposable
{
    private readonly Process _process;

    private FloodProcess(Process process, int connected)
    {
        _process = process;
        Connected = connected;
    }

    public int ProcessId => _process.Id;

    /// <summary>Bad clients whose handshake succeeded.</summary>
    public int Connected { get; }

    /// <summary>Starts the flood and returns once every bad client has connected (or was refused).</summary>
    public static async Task<FloodProcess> StartAsync(Uri uri, int connections, int seconds, bool once, CancellationToken cancellationToken)
    {
        var start = HarnessProcess.StartInfo("abuse", "--flood-url", uri.ToString(), "--garbage-connections", Invariant(connections), "--seconds", Invariant(seconds));
        if (once)
        {
            start.ArgumentList.Add("--once");
        }

        var process = Process.Start(start) ?? throw new InvalidOperationException("Could not start the flood process.");
        try
        {
            var line = await process.StandardOutput.ReadLineAsync(cancellationToken).ConfigureAwait(false);
            if (line is null || !line.StartsWith("connected ", StringComparison.Ordinal))
            {
                throw new InvalidOperationException($"The flood process did not connect: '{line}'.");
            }

            return new FloodProcess(process, int.Parse(line["connected ".Length..], CultureInfo.InvariantCulture));
        }
        catch
        {
            process.Kill(entireProcessTree: true);
            process.Dispose();
            throw;
        }
    }

    /// <summary>Stops the flood (closes its standard input) and returns how many messages it sent and how often its clients connected again.</summary>
    public async Task<(long Sent, long Reconnects)> StopAsync()
    {
        _process.StandardInput.Close();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var line = await _process.StandardOutput.ReadLineAsync(timeout.Token).ConfigureAwait(false);
        await _process.WaitForExitAsync(timeout.Token).ConfigureAwait(false);
        var words = line?.Split(' ') ?? [];
        return words is ["sent", var sent, "reconnected", var reconnects]
            ? (long.Parse(sent, CultureInfo.InvariantCulture), long.Parse(reconnects, CultureInfo.InvariantCulture))
            : throw new InvalidOperationException($"The flood process ended without its count: '{line}'.");
    }

    public ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
        }

        _process.Dispose();
        return ValueTask.CompletedTask;
    }

    private static string Invariant(int value) => value.ToString(CultureInfo.InvariantCulture);
}
