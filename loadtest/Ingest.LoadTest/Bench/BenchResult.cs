using System.Globalization;
using Ingest.LoadTest.Engine;
using Ingest.LoadTest.Metrics;

namespace Ingest.LoadTest.Bench;

/// <summary>Everything <c>bench</c> measured; written as the JSON result, rendered by <c>BenchReport</c>.</summary>
internal sealed class BenchResult
{
    public int Connections { get; set; }
    public int Events { get; set; }
    public int Batch { get; set; }
    public int Window { get; set; }
    public int Partitions { get; set; }
    public int Cores { get; set; }

    /// <summary>Where the gateway's environment variables came from, what was applied and skipped, in one line.</summary>
    public string GatewayEnvironment { get; set; } = "";
    public IReadOnlyList<string> GatewayEnvironmentApplied { get; set; } = [];
    public IReadOnlyList<string> GatewayEnvironmentSkipped { get; set; } = [];

    /// <summary>Every round, in order.</summary>
    public IReadOnlyList<BenchRound> Rounds { get; set; } = [];

    /// <summary>The number of the round with the median gateway-over-raw CPU ratio: the one reported.</summary>
    public int MedianRound { get; set; }

    public BenchRound? Median => Rounds.FirstOrDefault(r => r.Number == MedianRound);

    /// <summary>
    /// The number of the round whose gateway-over-raw CPU ratio is the median (of an even count, the
    /// higher of the two middle ones): the machine is noisy, so one round is reported and all are listed.
    /// </summary>
    public static int MedianRoundOf(IReadOnlyList<BenchRound> rounds) =>
        rounds.Count == 0 ? 0 : rounds.OrderBy(r => r.CpuRatioVsRaw).ElementAt(rounds.Count / 2).Number;

    public RawPacedResult? RawPaced { get; set; }
    public long RawPacedLanded { get; set; }
    public GatewayPaced? GatewayPaced { get; set; }
    public GatewayPaced? GatewayPacedHalfMax { get; set; }

    /// <summary>Gateway p99 minus raw producer p99 at the same fixed rate, in ms.</summary>
    public double? GatewayAddsAtP99Ms => RawPaced is null || GatewayPaced is null ? null : GatewayPaced.Measure.AckLatency.P99Ms - RawPaced.Latency.P99Ms;

    public ColdStart? Cold { get; set; }

    /// <summary>The warm gateway's <c>/metrics</c> histograms after the rounds and the latency runs; null when not read.</summary>
    public GatewayMetrics? GatewayMetrics { get; set; }

    /// <summary>Cold events/s over the warm gateway's (the median round's).</summary>
    public double ColdOverWarm => Cold is null || Median is not { Gateway.EventsPerSecond: > 0 } warm ? 0 : Cold.Load.EventsPerSecond / warm.Gateway.EventsPerSecond;

    public int IdleConnections { get; set; }
    public long RssBeforeBytes { get; set; }
    public long RssAfterBytes { get; set; }
    public double BytesPerIdleConnection { get; set; }

    /// <summary>Every count that did not match (see <see cref="CheckCounts"/>); empty when all did.</summary>
    public IReadOnlyList<string> Failures { get; set; } = [];

    public bool Passed => Failures.Count == 0;

    /// <summary>
    /// Nothing lost, nothing duplicated: for every raw run landed (high watermarks) = delivered =
    /// produced, for every gateway run landed = acked = sent.
    /// </summary>
    public IReadOnlyList<string> CheckCounts()
    {
        var failures = new List<string>();
        foreach (var round in Rounds)
        {
            Check(failures, $"round {round.Number} (a) raw, no headers", round.Raw.Check());
            Check(failures, $"round {round.Number} (b) raw, gateway's record", round.RawShaped.Check());
            Check(failures, $"round {round.Number} (c) gateway", round.Gateway.Check());
        }

        if (RawPaced is { } raw)
        {
            Check(failures, "raw producer paced", raw.Delivered == raw.Produced && RawPacedLanded == raw.Produced
                ? null
                : string.Create(CultureInfo.InvariantCulture, $"produced {raw.Produced:N0}, delivered {raw.Delivered:N0}, failed {raw.Failed:N0}, landed {RawPacedLanded:N0}"));
        }

        Check(failures, "gateway paced", GatewayPaced?.Measure.Check());
        Check(failures, "gateway paced at half its maximum", GatewayPacedHalfMax?.Measure.Check());
        Check(failures, "gateway cold start", Cold?.Load.Check());
        return failures;

        static void Check(List<string> failures, string what, string? problem)
        {
            if (problem is not null)
            {
                failures.Add($"{what}: {problem}");
            }
        }
    }
}

/// <summary>The raw producer's run in one round, measured in its own process.</summary>
/// <param name="Shape">The record shape (<see cref="RecordShape.Names"/>).</param>
/// <param name="Produced">Events handed to the producer.</param>
/// <param name="Delivered">Delivery reports without error.</param>
/// <param name="Failed">Delivery reports with an error.</param>
/// <param name="Landed">The topic's high watermarks after minus before.</param>
/// <param name="Seconds">From the first produce call to the end of the flush.</param>
/// <param name="CpuSeconds">The raw producer process's user + system CPU over the measured part.</param>
/// <param name="BrokerCpuSeconds">The harness process's meanwhile: the embedded broker, nearly alone.</param>
internal sealed record RawMeasure(string Shape, long Produced, long Delivered, long Failed, long Landed, double Seconds, double CpuSeconds, double BrokerCpuSeconds)
{
    public double EventsPerSecond => Seconds == 0 ? 0 : Delivered / Seconds;

    public double CpuMicrosecondsPerEvent => Delivered == 0 ? 0 : CpuSeconds * 1e6 / Delivered;

    public double BrokerCpuMicrosecondsPerEvent => Delivered == 0 ? 0 : BrokerCpuSeconds * 1e6 / Delivered;

    /// <summary>Null when landed = delivered = produced, else what differs.</summary>
    public string? Check() => Delivered == Produced && Landed == Produced
        ? null
        : string.Create(CultureInfo.InvariantCulture, $"produced {Produced:N0}, delivered {Delivered:N0}, failed {Failed:N0}, landed {Landed:N0}");
}

/// <summary>One load against the gateway.</summary>
/// <param name="Sent">Events the clients sent.</param>
/// <param name="Acked">Events the gateway acked.</param>
/// <param name="Errored">Events the gateway rejected (error frames).</param>
/// <param name="Landed">The topic's high watermarks after minus before.</param>
/// <param name="Messages">WebSocket messages the clients sent.</param>
/// <param name="Seconds">From the first send to the last ack.</param>
/// <param name="CpuSeconds">The gateway process's user + system CPU over the load (connecting included).</param>
/// <param name="ProcessCpuSeconds">The gateway process's CPU since it started, at the end of the load.</param>
/// <param name="HarnessCpuSeconds">The harness process's meanwhile: the clients and the embedded broker.</param>
/// <param name="AllocatedBytes">Bytes the gateway allocated, from its <c>/stats</c> when read.</param>
/// <param name="AckFrames">Ack frames the gateway sent, from its <c>/stats</c> when read.</param>
/// <param name="Gen0Collections">The gateway's gen0 collections, from its <c>/stats</c> when read.</param>
/// <param name="AckLatency">Send-to-ack per message.</param>
internal sealed record GatewayMeasure(
    long Sent,
    long Acked,
    long Errored,
    long Landed,
    long Messages,
    double Seconds,
    double CpuSeconds,
    double ProcessCpuSeconds,
    double HarnessCpuSeconds,
    long? AllocatedBytes,
    long? AckFrames,
    long? Gen0Collections,
    LatencySummary AckLatency)
{
    public double EventsPerSecond => Seconds == 0 ? 0 : Acked / Seconds;

    public double CpuMicrosecondsPerEvent => Acked == 0 ? 0 : CpuSeconds * 1e6 / Acked;

    public double HarnessCpuMicrosecondsPerEvent => Acked == 0 ? 0 : HarnessCpuSeconds * 1e6 / Acked;

    public double? AllocatedBytesPerEvent => Acked == 0 || AllocatedBytes is null ? null : (double)AllocatedBytes / Acked;

    public double? MessagesPerAckFrame => AckFrames is null or 0 ? null : (double)Messages / AckFrames;

    /// <summary>Null when landed = acked = sent, else what differs.</summary>
    public string? Check() => Landed == Acked && Acked == Sent
        ? null
        : string.Create(CultureInfo.InvariantCulture, $"sent {Sent:N0}, acked {Acked:N0}, errored {Errored:N0}, landed {Landed:N0}");
}

/// <summary>One round: (a) raw without headers, (b) the gateway's producer alone with the gateway's record shape, (c) gateway.</summary>
internal sealed record BenchRound(int Number, RawMeasure Raw, RawMeasure RawShaped, GatewayMeasure Gateway)
{
    /// <summary>Gateway CPU per event over (a)'s: the median round is chosen by this.</summary>
    public double CpuRatioVsRaw => Raw.CpuMicrosecondsPerEvent == 0 ? 0 : Gateway.CpuMicrosecondsPerEvent / Raw.CpuMicrosecondsPerEvent;

    public double CpuRatioVsShaped => RawShaped.CpuMicrosecondsPerEvent == 0 ? 0 : Gateway.CpuMicrosecondsPerEvent / RawShaped.CpuMicrosecondsPerEvent;

    public double RateRatioVsRaw => Raw.EventsPerSecond == 0 ? 0 : Gateway.EventsPerSecond / Raw.EventsPerSecond;

    public double RateRatioVsShaped => RawShaped.EventsPerSecond == 0 ? 0 : Gateway.EventsPerSecond / RawShaped.EventsPerSecond;

    public bool Passed => Raw.Check() is null && RawShaped.Check() is null && Gateway.Check() is null;
}

/// <summary>The first events of a freshly started gateway process.</summary>
/// <param name="Load">The load, sent the moment <c>/readyz</c> answered 200; its CPU is from the moment it began.</param>
/// <param name="StartupSeconds">From starting the process to the first 200 from <c>/readyz</c>.</param>
/// <param name="StartupCpuSeconds">The gateway's CPU by then.</param>
internal sealed record ColdStart(GatewayMeasure Load, double StartupSeconds, double StartupCpuSeconds)
{
    /// <summary>The process's whole CPU time (start-up included) per event of the load.</summary>
    public double CpuMicrosecondsPerEventFromStart => Load.Acked == 0 ? 0 : Load.ProcessCpuSeconds * 1e6 / Load.Acked;
}

/// <summary>The gateway paced at a fixed rate.</summary>
/// <param name="Rate">Target events/s in total.</param>
/// <param name="Measure">The load, its latency counted from each message's scheduled time.</param>
/// <param name="ScheduleLag">How late the harness sent each message: its own delay, included in the latency.</param>
/// <param name="GcPauseMs">The gateway's GC pauses during the run (<c>/stats</c>).</param>
internal sealed record GatewayPaced(int Rate, GatewayMeasure Measure, LatencySummary ScheduleLag, long GcPauseMs);
