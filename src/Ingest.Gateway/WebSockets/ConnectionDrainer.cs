using Ingest.Gateway.Diagnostics;
using Ingest.Gateway.Lifecycle;

namespace Ingest.Gateway.WebSockets;

/// <summary>
/// Shutdown step "drain connections", run before any service stops, while the server still
/// listens (so <c>/readyz</c> and new handshakes are answered 503, not refused at the TCP level):
/// starts the <see cref="ShutdownBudget"/>, which tells every connection to drain, and waits until
/// each has closed, at most until the budget runs out. Then the server stops, then the producer
/// flushes. The host calls this before it signals <c>ApplicationStopping</c> when stopped directly,
/// so the drain does not wait for that signal.
/// </summary>
internal sealed partial class ConnectionDrainer(
    ShutdownBudget budget,
    ConnectionRegistry registry,
    ILogger<ConnectionDrainer> logger) : IHostedLifecycleService
{
    public Task StartingAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StartedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public async Task StoppingAsync(CancellationToken cancellationToken)
    {
        budget.Begin();
        Log.ShutdownStarted(logger, registry.Active, budget.Total.TotalMilliseconds);
        try
        {
            await registry.WhenEmptyAsync().WaitAsync(budget.Final).WaitAsync(cancellationToken);
        }
        catch (OperationCanceledException)
        {
            Log.ConnectionsLeft(logger, registry.Active);
        }
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StoppedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    private static partial class Log
    {
        [LoggerMessage(EventIds.ShutdownStarted, LogLevel.Information, "Shutting down: draining {Connections} connections within a {BudgetMs} ms budget")]
        public static partial void ShutdownStarted(ILogger logger, int connections, double budgetMs);

        [LoggerMessage(EventIds.ShutdownConnectionsLeft, LogLevel.Warning, "The shutdown budget ran out with {Connections} connections still open; they are dropped")]
        public static partial void ConnectionsLeft(ILogger logger, int connections);
    }
}
