namespace Ingest.LoadTest.Scenarios;

/// <summary>How a scenario's clients send: as NBomber's load simulations, per client.</summary>
internal enum LoadSimulation
{
    /// <summary>One message every <see cref="ScenarioSettings.Interval"/> per client, on a fixed schedule.</summary>
    Paced,

    /// <summary>As fast as the window of unacked messages allows.</summary>
    AsFastAsAcked,
}

/// <summary>A scenario, fully resolved: what each client sends and how.</summary>
internal sealed record ScenarioSettings
{
    public required string Name { get; init; }

    public required Uri Url { get; init; }

    public required string BootstrapServers { get; init; }

    public string Topic { get; init; } = "events";

    public int Clients { get; init; } = 32;

    public int EventsPerClient { get; init; } = 32;

    /// <summary>Events per message; more than 1 sends JSON arrays.</summary>
    public int Batch { get; init; } = 1;

    public LoadSimulation Simulation { get; init; } = LoadSimulation.Paced;

    public TimeSpan Interval { get; init; } = TimeSpan.FromMilliseconds(100);

    public int Window { get; init; } = 64;

    /// <summary>How long every connection stays open and idle before its clients start sending.</summary>
    public TimeSpan Hold { get; init; } = TimeSpan.Zero;

    /// <summary>How long to wait for the last acks, and then for the records in Kafka.</summary>
    public TimeSpan DrainTimeout { get; init; } = TimeSpan.FromMinutes(2);

    public string ResultsDirectory { get; init; } = "results";

    /// <summary>Read the gateway's <c>GET /metrics</c> at the end of the run, for the report. Defaults to true.</summary>
    public bool ScrapeMetrics { get; init; } = true;

    /// <summary>Where the gateway's metrics are; null: the gateway of <see cref="Url"/> (<c>http(s)://host:port/metrics</c>).</summary>
    public Uri? MetricsUrl { get; init; }

    /// <summary>
    /// A paced scenario sending for <paramref name="duration"/>: one message per interval per client,
    /// so <c>duration / interval</c> messages of <see cref="Batch"/> events each (at least one).
    /// </summary>
    public ScenarioSettings RunningFor(TimeSpan duration) =>
        this with { EventsPerClient = (int)Math.Max(1, Math.Floor(duration / Interval)) * Batch };

    /// <summary>The named scenarios of issue 5, with their default shapes; options override them.</summary>
    public static ScenarioSettings Preset(string name, Uri url, string bootstrapServers) => name switch
    {
        // 256 clients x 256 events, one event per client every 100 ms (about 26 s).
        "classic" => new() { Name = name, Url = url, BootstrapServers = bootstrapServers, Clients = 256, EventsPerClient = 256 },
        // Every client sends everything at once, bounded only by its window of unacked messages.
        "burst" => new() { Name = name, Url = url, BootstrapServers = bootstrapServers, Clients = 64, EventsPerClient = 2_000, Simulation = LoadSimulation.AsFastAsAcked },
        // JSON arrays of 100 events, as fast as acked.
        "batch" => new() { Name = name, Url = url, BootstrapServers = bootstrapServers, Clients = 32, EventsPerClient = 5_000, Batch = 100, Simulation = LoadSimulation.AsFastAsAcked },
        // A steady trickle for 10 minutes: 64 clients, one event every 100 ms, 6,000 each.
        "soak" => new() { Name = name, Url = url, BootstrapServers = bootstrapServers, Clients = 64, EventsPerClient = 6_000 },
        // Many connections opened and held idle for 10 s, then one event each (spread over a second).
        "connections" => new() { Name = name, Url = url, BootstrapServers = bootstrapServers, Clients = 5_000, EventsPerClient = 1, Interval = TimeSpan.FromSeconds(1), Hold = TimeSpan.FromSeconds(10) },
        _ => throw new ArgumentException($"Unknown scenario '{name}'.", nameof(name)),
    };

    public static readonly string[] Names = ["classic", "burst", "batch", "soak", "connections"];
}
