namespace Ingest.IntegrationTests.Observability;

/// <summary>
/// Tests that read a gateway's OpenTelemetry output: they run after the parallel tests of this
/// assembly, one at a time. OpenTelemetry listens by name, process-wide: a gateway's meter
/// provider also sees the <c>Ingest.Gateway</c> meters of every other gateway in the process, and
/// a tracing gateway's listener the activities of every other one, so counts are exact and
/// "tracing off" means no listener only while no other gateway runs.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class TelemetryCollection
{
    public const string Name = "Telemetry";
}
