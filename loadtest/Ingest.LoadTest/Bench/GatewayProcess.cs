using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Ingest.Contracts;

namespace Ingest.LoadTest.Bench;

/// <summary>
/// The gateway as a separate process (<c>dotnet Ingest.Gateway.dll</c>), so that its CPU time and
/// resident memory are its own and not mixed with the harness's clients and the embedded broker.
/// It is started with the variables of <c>deploy/gateway.env</c> (<see cref="GatewayEnvironment"/>),
/// as every other way of starting the gateway is.
/// </summary>
internal sealed class GatewayProcess : IAsyncDisposable
{
    private static int _defaultEnvironmentShown;

    private readonly Process _process;
    private readonly HttpClient _http;

    private GatewayProcess(Process process, Uri httpUri, long startedTimestamp)
    {
        _process = process;
        HttpUri = httpUri;
        StartedTimestamp = startedTimestamp;
        WebSocketUri = new UriBuilder(httpUri) { Scheme = "ws", Path = "/ws" }.Uri;
        _http = new HttpClient { BaseAddress = httpUri, Timeout = TimeSpan.FromSeconds(10) };
    }

    public Uri HttpUri { get; }

    public Uri WebSocketUri { get; }

    public int ProcessId => _process.Id;

    /// <summary><see cref="Stopwatch.GetTimestamp"/> just before the process was started.</summary>
    public long StartedTimestamp { get; }

    /// <summary>From starting the process to the first 200 from <c>/readyz</c>.</summary>
    public TimeSpan StartupTime { get; private set; }

    /// <summary>Starts the gateway with the repository's <c>deploy/gateway.env</c> (<see cref="GatewayEnvironment.Default"/>), printing once what it applied.</summary>
    public static Task<GatewayProcess> StartAsync(string gatewayDll, IReadOnlyDictionary<string, string> settings, CancellationToken cancellationToken)
    {
        var environment = GatewayEnvironment.Default;
        if (Interlocked.Exchange(ref _defaultEnvironmentShown, 1) == 0)
        {
            Console.Error.WriteLine($"gateway environment: {environment.Summary()}");
        }

        return StartAsync(gatewayDll, settings, environment, cancellationToken);
    }

    /// <summary>
    /// Starts the gateway on a free loopback port with <paramref name="environment"/>'s variables
    /// added to this process's environment, and waits until <c>/readyz</c> answers 200. A gateway
    /// that does not get there is killed.
    /// </summary>
    public static async Task<GatewayProcess> StartAsync(
        string gatewayDll, IReadOnlyDictionary<string, string> settings, GatewayEnvironment environment, CancellationToken cancellationToken)
        => await StartAsync(gatewayDll, settings, environment, FreePort(), onLine: null, cancellationToken).ConfigureAwait(false);

    /// <summary>
    /// Starts the gateway on <paramref name="port"/> (so that a gateway started again after a crash
    /// is where its clients reconnect), passing every line it writes to <paramref name="onLine"/> as well.
    /// </summary>
    public static async Task<GatewayProcess> StartAsync(
        string gatewayDll, IReadOnlyDictionary<string, string> settings, GatewayEnvironment environment, int port, Action<string>? onLine, CancellationToken cancellationToken)
    {
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = Path.GetDirectoryName(gatewayDll)!,
        };
        start.ArgumentList.Add(gatewayDll);
        start.ArgumentList.Add("--urls");
        start.ArgumentList.Add($"http://127.0.0.1:{port}");
        foreach (var (key, value) in settings)
        {
            start.ArgumentList.Add($"--{key}={value}");
        }

        environment.ApplyTo(start);
        var started = Stopwatch.GetTimestamp();
        var process = Process.Start(start) ?? throw new InvalidOperationException("Could not start the gateway process.");
        // Drain its output so that a full pipe never blocks it; keep only warnings and errors visible.
        process.OutputDataReceived += (_, e) => Forward(e.Data, onLine);
        process.ErrorDataReceived += (_, e) => Forward(e.Data, onLine);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();

        var gateway = new GatewayProcess(process, new Uri($"http://127.0.0.1:{port}"), started);
        try
        {
            await gateway.WaitUntilReadyAsync(cancellationToken).ConfigureAwait(false);
            gateway.StartupTime = Stopwatch.GetElapsedTime(started);
            return gateway;
        }
        catch
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
            }

            await gateway.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    private async Task WaitUntilReadyAsync(CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(TimeSpan.FromSeconds(60));
        while (true)
        {
            if (_process.HasExited)
            {
                throw new InvalidOperationException($"The gateway exited with code {_process.ExitCode} during start-up.");
            }

            try
            {
                using var response = await _http.GetAsync(new Uri("/readyz", UriKind.Relative), timeout.Token).ConfigureAwait(false);
                if (response.IsSuccessStatusCode)
                {
                    return;
                }
            }
            catch (HttpRequestException)
            {
                // Not listening yet.
            }
            catch (TaskCanceledException) when (!timeout.IsCancellationRequested)
            {
                // This probe hit the client's 10 s timeout, not our deadline: not answering yet.
            }

            await Task.Delay(50, timeout.Token).ConfigureAwait(false);
        }
    }

    /// <summary>The gateway's <c>/stats</c> document, from one request.</summary>
    public async Task<GatewayStats> GetStatsAsync(CancellationToken cancellationToken) =>
        GatewayStats.Parse(await _http.GetStringAsync(new Uri("/stats", UriKind.Relative), cancellationToken).ConfigureAwait(false));

    public long ResidentBytes => ProcessProbe.ResidentBytes(_process.Id);

    public bool HasExited => _process.HasExited;

    public int ExitCode => _process.ExitCode;

    /// <summary>Kills the process with SIGKILL (no shutdown at all).</summary>
    public void Kill() => _process.Kill();

    public Task WaitForExitAsync(CancellationToken cancellationToken) => _process.WaitForExitAsync(cancellationToken);

    /// <summary>Whether <c>/readyz</c> answers 200 now.</summary>
    public async Task<bool> IsReadyAsync(CancellationToken cancellationToken)
    {
        try
        {
            using var response = await _http.GetAsync(new Uri("/readyz", UriKind.Relative), cancellationToken).ConfigureAwait(false);
            return response.IsSuccessStatusCode;
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException && !cancellationToken.IsCancellationRequested)
        {
            return false;
        }
    }

    /// <summary>The gateway's <c>/metrics</c> text, or null when it does not answer 200.</summary>
    public async Task<string?> GetMetricsTextAsync(CancellationToken cancellationToken)
    {
        try
        {
            using var response = await _http.GetAsync(new Uri("/metrics", UriKind.Relative), cancellationToken).ConfigureAwait(false);
            return response.IsSuccessStatusCode ? await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false) : null;
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException && !cancellationToken.IsCancellationRequested)
        {
            return null;
        }
    }

    public TimeSpan CpuTime => ProcessProbe.CpuTime(_process.Id);

    /// <summary>Graceful stop (SIGTERM), killed when it takes longer than 30 s.</summary>
    public async Task StopAsync()
    {
        if (_process.HasExited)
        {
            return;
        }

        using (var kill = Process.Start("kill", ["-TERM", _process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]))
        {
            await kill.WaitForExitAsync().ConfigureAwait(false);
        }

        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        try
        {
            await _process.WaitForExitAsync(timeout.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            _process.Kill(entireProcessTree: true);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync().ConfigureAwait(false);
        _http.Dispose();
        _process.Dispose();
    }

    /// <summary>
    /// The gateway assembly built next to this harness: <c>src/Ingest.Gateway/bin/&lt;Configuration&gt;/net10.0</c>
    /// of the repository this harness runs from.
    /// </summary>
    public static string? FindGatewayDll()
    {
        var baseDirectory = AppContext.BaseDirectory;
        var configuration = baseDirectory.Contains($"{Path.DirectorySeparatorChar}Debug{Path.DirectorySeparatorChar}", StringComparison.Ordinal) ? "Debug" : "Release";
        for (var directory = new DirectoryInfo(baseDirectory); directory is not null; directory = directory.Parent)
        {
            foreach (var candidate in new[] { configuration, configuration == "Release" ? "Debug" : "Release" })
            {
                var dll = Path.Combine(directory.FullName, "src", "Ingest.Gateway", "bin", candidate, "net10.0", "Ingest.Gateway.dll");
                if (File.Exists(dll))
                {
                    return dll;
                }
            }
        }

        return null;
    }

    internal static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    /// <summary>Warnings and worse, in the gateway's Production format (compact JSON: <c>"@l":"Warning"</c>) or its readable one.</summary>
    private static void Forward(string? line, Action<string>? onLine)
    {
        if (line is not null)
        {
            onLine?.Invoke(line);
        }

        if (line is not null && (line.Contains("\"@l\":\"Warning\"", StringComparison.Ordinal) || line.Contains("\"@l\":\"Error\"", StringComparison.Ordinal) || line.Contains("\"@l\":\"Fatal\"", StringComparison.Ordinal)
            || line.Contains(" WRN]", StringComparison.Ordinal) || line.Contains(" ERR]", StringComparison.Ordinal) || line.Contains(" FTL]", StringComparison.Ordinal)))
        {
            Console.Error.WriteLine($"gateway: {line}");
        }
    }
}
