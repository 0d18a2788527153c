using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace Ingest.Testing;

/// <summary>
/// The gateway as its own process (<c>dotnet Ingest.Gateway.dll</c> from the test's output), for
/// what only a process shows: signals, exit codes and everything it writes.
/// </summary>
internal sealed class GatewayProcessHost : IAsyncDisposable
{
    private readonly Process _process;
    private readonly ConcurrentQueue<string> _output = new();

    private GatewayProcessHost(Process process, Uri httpUri)
    {
        _process = process;
        HttpUri = httpUri;
        WebSocketUri = new UriBuilder(httpUri) { Scheme = "ws", Path = "/ws" }.Uri;
        Http = new HttpClient { BaseAddress = httpUri, Timeout = TimeSpan.FromSeconds(10) };
    }

    public Uri HttpUri { get; }

    public Uri WebSocketUri { get; }

    public HttpClient Http { get; }

    /// <summary>Every line written to stdout and stderr so far.</summary>
    public IReadOnlyCollection<string> Output => _output;

    public bool HasExited => _process.HasExited;

    /// <summary>The gateway's process id (bash execs it, so it is the same process).</summary>
    public int ProcessId => _process.Id;

    /// <summary>The process's resident memory now, from /proc (VmRSS).</summary>
    public long ResidentBytes
    {
        get
        {
            foreach (var line in File.ReadLines($"/proc/{_process.Id}/status"))
            {
                if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
                {
                    return long.Parse(line["VmRSS:".Length..^"kB".Length].Trim(), System.Globalization.CultureInfo.InvariantCulture) * 1024;
                }
            }

            return 0;
        }
    }

    public int ExitCode => _process.ExitCode;

    /// <summary>
    /// Starts the gateway with <paramref name="settings"/> (as <c>--key=value</c> arguments); with
    /// <paramref name="descriptorLimit"/>, under that limit on open files (soft and hard, so that
    /// the runtime cannot raise it), as <c>ulimit -n</c> sets it; with <paramref name="environment"/>,
    /// with those environment variables and none inherited that would configure the gateway
    /// (<c>Ingest__*</c>, <c>ASPNETCORE_*</c>, <c>OTEL_*</c>, <c>Kestrel__*</c>, <c>Serilog__*</c>).
    /// </summary>
    public static GatewayProcessHost Start(IReadOnlyDictionary<string, string> settings, int? descriptorLimit = null, IReadOnlyDictionary<string, string>? environment = null)
    {
        var port = FreePort();
        var start = new ProcessStartInfo(descriptorLimit is null ? "dotnet" : "bash")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = AppContext.BaseDirectory,
        };
        if (environment is not null)
        {
            string[] configuring = ["Ingest__", "ASPNETCORE_", "OTEL_", "Kestrel__", "Serilog__"];
            foreach (var inherited in start.Environment.Keys.Where(k => configuring.Any(p => k.StartsWith(p, StringComparison.OrdinalIgnoreCase))).ToList())
            {
                start.Environment.Remove(inherited);
            }

            foreach (var (key, value) in environment)
            {
                start.Environment[key] = value;
            }
        }
        if (descriptorLimit is { } limit)
        {
            start.ArgumentList.Add("-c");
            start.ArgumentList.Add($"ulimit -n {limit} && exec dotnet \"$@\"");
            start.ArgumentList.Add("gateway");
        }

        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "Ingest.Gateway.dll"));
        start.ArgumentList.Add("--urls");
        start.ArgumentList.Add($"http://127.0.0.1:{port}");
        foreach (var (key, value) in settings)
        {
            start.ArgumentList.Add($"--{key}={value}");
        }

        var process = Process.Start(start) ?? throw new InvalidOperationException("Could not start the gateway.");
        var host = new GatewayProcessHost(process, new Uri($"http://127.0.0.1:{port}"));
        process.OutputDataReceived += (_, e) => host.Collect(e.Data);
        process.ErrorDataReceived += (_, e) => host.Collect(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return host;
    }

    /// <summary>Waits until <c>/readyz</c> answers 200.</summary>
    public async Task WaitUntilReadyAsync()
    {
        using var timer = new PeriodicTimer(TimeSpan.FromMilliseconds(50));
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        while (!await IsReadyAsync())
        {
            if (HasExited || DateTime.UtcNow > deadline)
            {
                throw new InvalidOperationException($"The gateway did not become ready; it wrote:\n{string.Join('\n', Output)}");
            }

            await timer.WaitForNextTickAsync(TestContext.Current.CancellationToken);
        }
    }

    /// <summary>Sends SIGTERM, as an orchestrator does.</summary>
    public void Terminate()
    {
        using var kill = Process.Start("kill", ["-TERM", _process.Id.ToString(CultureInfo.InvariantCulture)]);
        kill.WaitForExit();
    }

    /// <summary>Sends SIGKILL: the process ends at once, flushing nothing.</summary>
    public void Kill() => _process.Kill(entireProcessTree: false);

    public async Task<bool> WaitForExitAsync(TimeSpan timeout)
    {
        using var cancel = new CancellationTokenSource(timeout);
        try
        {
            await _process.WaitForExitAsync(cancel.Token);
            return true;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }

        Http.Dispose();
        _process.Dispose();
    }

    private async Task<bool> IsReadyAsync()
    {
        try
        {
            using var response = await Http.GetAsync(new Uri("/readyz", UriKind.Relative));
            return response.IsSuccessStatusCode;
        }
        catch (HttpRequestException)
        {
            return false;
        }
    }

    private void Collect(string? line)
    {
        if (line is not null)
        {
            _output.Enqueue(line);
        }
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
