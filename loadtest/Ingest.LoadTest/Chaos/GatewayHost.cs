using System.Collections.Concurrent;
using System.Diagnostics;
using Ingest.LoadTest.Bench;

namespace Ingest.LoadTest.Chaos;

/// <summary>Why a gateway process ended during a run.</summary>
internal sealed record GatewayExit(double AtSeconds, int ProcessId, int ExitCode, bool KilledByHarness, IReadOnlyList<string> LastCriticalLines, double RestartSeconds);

/// <summary>
/// The gateway of a long run, on one port for its whole life: a process that ends (SIGKILL by the
/// harness, or by itself, e.g. after a fatal producer error) is replaced by a new one on the same
/// port, where the clients reconnect. Lines the gateway logs at Critical (Serilog's Fatal) are kept.
/// </summary>
internal sealed class GatewayHost : IAsyncDisposable
{
    private readonly string _gatewayDll;
    private readonly IReadOnlyDictionary<string, string> _settings;
    private readonly GatewayEnvironment _environment;
    private readonly long _started;
    private readonly SemaphoreSlim _restart = new(1, 1);
    private readonly CancellationTokenSource _stop = new();
    private readonly ConcurrentQueue<string> _critical = new();
    private readonly List<GatewayExit> _exits = [];
    private readonly Lock _lock = new();
    private volatile GatewayProcess? _current;
    private GatewayProcess? _killing;

    public GatewayHost(string gatewayDll, IReadOnlyDictionary<string, string> settings, GatewayEnvironment environment, long started)
    {
        _gatewayDll = gatewayDll;
        _settings = settings;
        _environment = environment;
        _started = started;
        Port = GatewayProcess.FreePort();
    }

    public int Port { get; }

    public Uri WebSocketUri => new($"ws://127.0.0.1:{Port}/ws");

    /// <summary>The process now (null while one is being started).</summary>
    public GatewayProcess? Current => _current;

    public IReadOnlyList<GatewayExit> Exits
    {
        get
        {
            lock (_lock)
            {
                return _exits.ToArray();
            }
        }
    }

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        _current = await StartProcessAsync(cancellationToken).ConfigureAwait(false);
        _ = MonitorAsync(_current);
    }

    /// <summary>SIGKILL, then a new process on the same port once the old one is gone. Returns the new one's start-up time.</summary>
    public async Task<TimeSpan> KillAndRestartAsync(CancellationToken cancellationToken)
    {
        await _restart.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var victim = _current ?? throw new InvalidOperationException("No gateway to kill.");
            lock (_lock)
            {
                _killing = victim;
            }

            var at = Stopwatch.GetElapsedTime(_started).TotalSeconds;
            victim.Kill();
            await victim.WaitForExitAsync(cancellationToken).ConfigureAwait(false);
            _current = null;
            var restart = Stopwatch.GetTimestamp();
            var next = await StartProcessAsync(cancellationToken).ConfigureAwait(false);
            var took = Stopwatch.GetElapsedTime(restart);
            lock (_lock)
            {
                _exits.Add(new GatewayExit(at, victim.ProcessId, victim.ExitCode, KilledByHarness: true, [], took.TotalSeconds));
            }

            _current = next;
            _ = MonitorAsync(next);
            await victim.DisposeAsync().ConfigureAwait(false);
            return took;
        }
        finally
        {
            _restart.Release();
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        if (_current is { } current)
        {
            await current.DisposeAsync().ConfigureAwait(false);
        }

        _stop.Dispose();
        _restart.Dispose();
    }

    /// <summary>A process that ends by itself is recorded with its last critical lines and replaced.</summary>
    private async Task MonitorAsync(GatewayProcess process)
    {
        try
        {
            await process.WaitForExitAsync(_stop.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            return;
        }

        lock (_lock)
        {
            if (ReferenceEquals(_killing, process))
            {
                return;
            }
        }

        await _restart.WaitAsync(_stop.Token).ConfigureAwait(false);
        try
        {
            if (!ReferenceEquals(_current, process) || _stop.IsCancellationRequested)
            {
                return;
            }

            var at = Stopwatch.GetElapsedTime(_started).TotalSeconds;
            _current = null;
            var lines = new List<string>();
            while (_critical.TryDequeue(out var line))
            {
                lines.Add(line);
            }

            Console.Error.WriteLine($"gateway pid {process.ProcessId} exited by itself with code {process.ExitCode} at {at:0.0} s; starting a new one on port {Port}");
            var restart = Stopwatch.GetTimestamp();
            var next = await StartProcessAsync(_stop.Token).ConfigureAwait(false);
            lock (_lock)
            {
                _exits.Add(new GatewayExit(at, process.ProcessId, process.ExitCode, KilledByHarness: false, lines, Stopwatch.GetElapsedTime(restart).TotalSeconds));
            }

            _current = next;
            _ = MonitorAsync(next);
        }
        catch (OperationCanceledException)
        {
        }
        finally
        {
            _restart.Release();
        }
    }

    private async Task<GatewayProcess> StartProcessAsync(CancellationToken cancellationToken)
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                return await GatewayProcess.StartAsync(_gatewayDll, _settings, _environment, Port, OnLine, cancellationToken).ConfigureAwait(false);
            }
            catch (InvalidOperationException) when (attempt < 3)
            {
                // E.g. the port not free again yet: try again.
                await Task.Delay(500, cancellationToken).ConfigureAwait(false);
            }
        }
    }

    private void OnLine(string line)
    {
        if (line.Contains("\"@l\":\"Fatal\"", StringComparison.Ordinal) || line.Contains(" FTL]", StringComparison.Ordinal) || line.Contains("Fatal Kafka producer error", StringComparison.Ordinal))
        {
            _critical.Enqueue(line.Length > 400 ? line[..400] : line);
            while (_critical.Count > 10 && _critical.TryDequeue(out _))
            {
            }
        }
    }
}
