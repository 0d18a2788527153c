using Ingest.Gateway.Diagnostics;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Ingest.Gateway.Lifecycle;

/// <summary>Readiness: not shutting down.</summary>
internal sealed class DrainingHealthCheck(ShutdownBudget budget) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default) =>
        Task.FromResult(budget.HasBegun
            ? HealthCheckResult.Unhealthy("the gateway is shutting down", data: ReadinessStatus.Of("draining"))
            : HealthCheckResult.Healthy());
}
