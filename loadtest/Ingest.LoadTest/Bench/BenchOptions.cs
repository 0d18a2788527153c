namespace Ingest.LoadTest.Bench;

/// <summary>Options of the <c>bench</c> command.</summary>
internal sealed record BenchOptions
{
    public int Connections { get; init; } = 64;

    /// <summary>Events of each measured part of a round: raw producer without headers, with the gateway's, gateway.</summary>
    public int Events { get; init; } = 500_000;

    public int Batch { get; init; } = 1;

    public int Window { get; init; } = 64;

    public int Partitions { get; init; } = 8;

    /// <summary>Duration of each paced run (raw producer and gateway at <see cref="LatencyRate"/>).</summary>
    public int PacedSeconds { get; init; } = 10;

    /// <summary>Events/s of the latency comparison, in total (the gateway's spread over <see cref="Connections"/>).</summary>
    public int LatencyRate { get; init; } = 20_000;

    /// <summary>Also the gateway paced at half its measured maximum (the bench's latency measure before issue 13).</summary>
    public bool PacedHalfMax { get; init; }

    /// <summary>Events sent to a fresh gateway process right after it is ready (the cold start).</summary>
    public int ColdEvents { get; init; } = 200_000;

    /// <summary>Rounds of raw producer (both shapes) then gateway; the report takes the round with the median CPU ratio.</summary>
    public int Rounds { get; init; } = 5;

    public int IdleConnections { get; init; } = 10_000;

    public string? GatewayDll { get; init; }

    /// <summary>The gateway's environment file: null = the repository's <c>deploy/gateway.env</c>, <c>none</c> = none.</summary>
    public string? GatewayEnv { get; init; }

    public string ResultsDirectory { get; init; } = "results";
}
