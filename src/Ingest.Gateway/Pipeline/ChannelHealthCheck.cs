using Ingest.Gateway.Diagnostics;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Ingest.Gateway.Pipeline;

/// <summary>Readiness: the ingest channel has room (Kafka keeps up with the clients).</summary>
internal sealed class ChannelHealthCheck(EventChannel channel) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default) =>
        Task.FromResult(channel.IsSaturated
            ? HealthCheckResult.Unhealthy($"the ingest channel is full ({channel.Count} of {channel.Capacity})", data: ReadinessStatus.Of("channel_saturated"))
            : HealthCheckResult.Healthy());
}
