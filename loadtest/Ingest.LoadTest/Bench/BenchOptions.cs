namespace Ingest.LoadTest.Bench;

/// <summary>Options of the <c>bench</c> command.</summary>
internal sealed record BenchOptions
{
    public int Connections { get; init; } = 64;

    public int Events { get; init; } = 500_000;

    public int Batch { get; init; } = 1;

    public int Window { get; init; } = 64;

    public int Partitions { get; init; } = 8;

    public int PacedSeconds { get; init; } = 10;

    /// <summary>Rounds of raw producer then gateway; the report takes the round with the median ratio.</summary>
    public int Rounds { get; init; } = 5;

    public int IdleConnections { get; init; } = 10_000;

    public string? GatewayDll { get; init; }

    public string ResultsDirectory { get; init; } = "results";
}
