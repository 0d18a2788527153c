using Ingest.Gateway.Diagnostics;

namespace Ingest.Gateway.WebSockets;

/// <summary>
/// Once a second, asks every open session whether a timeout has passed (a message taking longer
/// than <c>MessageTimeoutMs</c>, a connection idle longer than <c>IdleTimeoutMs</c>): one timer for
/// all connections instead of one each; and lets the registry forget addresses whose allowance of
/// rejected messages has refilled. A failure of one pass is logged and the next pass runs.
/// </summary>
internal sealed partial class ConnectionSweeper(ConnectionRegistry registry, TimeProvider time, ILogger<ConnectionSweeper> logger) : BackgroundService
{
    private static readonly TimeSpan Interval = TimeSpan.FromSeconds(1);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(Interval, time);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                registry.Forget();
                foreach (var session in registry.Sessions)
                {
                    try
                    {
                        session.CheckTimeouts();
                    }
                    catch (Exception e) when (e is not OutOfMemoryException)
                    {
                        Log.SweepFailed(logger, session.ConnectionId, e);
                    }
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Shutting down.
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventIds.SweepFailed, LogLevel.Error, "Checking the timeouts of connection {ConnectionId} failed")]
        public static partial void SweepFailed(ILogger logger, string connectionId, Exception exception);
    }
}
