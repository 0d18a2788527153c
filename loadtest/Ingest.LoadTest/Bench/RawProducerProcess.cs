using System.Diagnostics;
using System.Globalization;
using System.Text.Json;

namespace Ingest.LoadTest.Bench;

/// <summary>
/// The raw producer in a process of its own: this harness started again with the hidden
/// <c>raw-producer</c> command (<c>dotnet Ingest.LoadTest.dll raw-producer ...</c>, the way
/// <see cref="GatewayProcess"/> starts the gateway). Commands go to its stdin and each result comes
/// back as one JSON line on its stdout; its stderr is passed through. The process measures its own
/// CPU time around each command's measured part, so the figure excludes its start-up, the embedded
/// broker and the WebSocket clients (all in the harness process), as the gateway's CPU time is the
/// gateway process's alone. Closing stdin ends it.
/// </summary>
internal sealed class RawProducerProcess : IAsyncDisposable
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    private readonly Process _process;

    private RawProducerProcess(Process process) => _process = process;

    public int ProcessId => _process.Id;

    /// <summary>Starts the process; its producer connects to <paramref name="bootstrapServers"/> and keys events by <paramref name="clients"/> client ids.</summary>
    public static RawProducerProcess Start(string bootstrapServers, int clients)
    {
        var start = HarnessProcess.StartInfo("raw-producer", "--bootstrap", bootstrapServers, "--clients", clients.ToString(CultureInfo.InvariantCulture));
        start.RedirectStandardError = true;
        var process = Process.Start(start) ?? throw new InvalidOperationException("Could not start the raw producer process.");
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is not null)
            {
                Console.Error.WriteLine($"raw-producer: {e.Data}");
            }
        };
        process.BeginErrorReadLine();
        return new RawProducerProcess(process);
    }

    /// <summary><paramref name="events"/> events of <paramref name="shape"/> to <paramref name="topic"/>, as fast as possible.</summary>
    public Task<RawRunResult> RunAsync(string topic, int events, string shape, CancellationToken cancellationToken, string client = RawProducerCommand.Confluent) =>
        SendAsync<RawRunResult>(new RawProducerCommand(RawProducerCommand.Run, topic, shape, Events: events, Client: client), cancellationToken);

    /// <summary><paramref name="rate"/> events/s of <paramref name="shape"/> to <paramref name="topic"/> for <paramref name="seconds"/> s, on a fixed schedule.</summary>
    public Task<RawPacedResult> PacedAsync(string topic, int rate, int seconds, string shape, CancellationToken cancellationToken) =>
        SendAsync<RawPacedResult>(new RawProducerCommand(RawProducerCommand.Paced, topic, shape, Rate: rate, Seconds: seconds), cancellationToken);

    /// <summary>Closes its stdin (it flushes and exits), killed when it takes longer than 30 s.</summary>
    public async ValueTask DisposeAsync()
    {
        try
        {
            if (!_process.HasExited)
            {
                _process.StandardInput.Close();
                using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
                await _process.WaitForExitAsync(timeout.Token).ConfigureAwait(false);
            }
        }
        catch (Exception e) when (e is OperationCanceledException or IOException)
        {
            _process.Kill(entireProcessTree: true);
        }
        finally
        {
            _process.Dispose();
        }
    }

    private async Task<T> SendAsync<T>(RawProducerCommand command, CancellationToken cancellationToken)
    {
        await _process.StandardInput.WriteLineAsync(JsonSerializer.Serialize(command, Json).AsMemory(), cancellationToken).ConfigureAwait(false);
        await _process.StandardInput.FlushAsync(cancellationToken).ConfigureAwait(false);
        var line = await _process.StandardOutput.ReadLineAsync(cancellationToken).ConfigureAwait(false);
        if (line is null)
        {
            await _process.WaitForExitAsync(cancellationToken).ConfigureAwait(false);
            throw new InvalidOperationException($"The raw producer process exited with code {_process.ExitCode} during '{command.Kind}' (its stderr is above).");
        }

        return JsonSerializer.Deserialize<T>(line, Json) ?? throw new InvalidOperationException($"The raw producer answered '{line}'.");
    }
}
