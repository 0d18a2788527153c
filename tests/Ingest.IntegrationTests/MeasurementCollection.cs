namespace Ingest.IntegrationTests;

/// <summary>
/// Tests that compare timings: they run after the parallel tests of this assembly, one at a time,
/// so that other tests' load does not land on one side of a comparison.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class MeasurementCollection
{
    public const string Name = "Measurements";
}
