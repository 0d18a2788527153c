using Ingest.Gateway.Diagnostics;
using Ingest.Gateway.Security;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Ingest.Gateway.Hosting;

/// <summary>
/// <c>/healthz</c> (liveness: the process serves) and <c>/readyz</c> (readiness: not draining,
/// Kafka answers, the channel has room) on ASP.NET Core's health checks, with the JSON bodies of
/// docs/protocol.md: <c>{"status":"ready"}</c>, or 503 with the first failing check's status and reason.
/// </summary>
internal static class HealthEndpoints
{
    public const string ReadyTag = "ready";
    public const string Draining = "draining";
    public const string Kafka = "kafka";
    public const string Channel = "channel";

    /// <summary>When several checks fail, the one reported: the most fundamental first.</summary>
    private static readonly string[] Precedence = [Draining, Kafka, Channel];

    public static void Map(WebApplication app)
    {
        app.MapHealthChecks("/healthz", new HealthCheckOptions
        {
            Predicate = _ => false,
            ResponseWriter = (context, _) => context.Response.WriteAsJsonAsync(new { status = "live" }),
        }).WithMetadata(ProbeEndpoint.Instance);
        app.MapHealthChecks("/readyz", new HealthCheckOptions
        {
            Predicate = check => check.Tags.Contains(ReadyTag),
            ResultStatusCodes =
            {
                [HealthStatus.Healthy] = StatusCodes.Status200OK,
                [HealthStatus.Degraded] = StatusCodes.Status503ServiceUnavailable,
                [HealthStatus.Unhealthy] = StatusCodes.Status503ServiceUnavailable,
            },
            ResponseWriter = WriteReadinessAsync,
        }).WithMetadata(ProbeEndpoint.Instance);
    }

    private static Task WriteReadinessAsync(HttpContext context, HealthReport report)
    {
        foreach (var name in Precedence)
        {
            if (report.Entries.TryGetValue(name, out var entry) && entry.Status != HealthStatus.Healthy)
            {
                var status = entry.Data.TryGetValue(ReadinessStatus.Key, out var value) ? (string)value : name;
                return context.Response.WriteAsJsonAsync(new { status, reason = entry.Description ?? entry.Exception?.Message });
            }
        }

        return context.Response.WriteAsJsonAsync(new { status = "ready" });
    }
}
