using System.Diagnostics;
using System.Text.Json.Serialization;
using Ingest.Kafka.Audit;
using Ingest.LoadTest.Engine;
using Ingest.LoadTest.Metrics;
using Ingest.LoadTest.Verification;

namespace Ingest.LoadTest.Scenarios;

/// <summary>
/// Runs one scenario end to end: clients send, keep unacked messages, reconnect and resend; then
/// verification counts this run's records in Kafka and fails unless every acked event landed
/// exactly once and every sent event was resolved. The run is also sampled every second (a
/// <see cref="Timeline"/>), and the gateway's <c>/metrics</c> is read at its end.
/// </summary>
internal static class ScenarioRunner
{
    public static async Task<ScenarioResult> RunAsync(ScenarioSettings settings, Action<ScenarioProgress>? onProgress, CancellationToken cancellationToken)
    {
        var runId = $"run{Guid.NewGuid():N}"[..11];
        var acked = new bool[settings.Clients][];
        for (var i = 0; i < settings.Clients; i++)
        {
            acked[i] = new bool[settings.EventsPerClient];
        }

        var ledgers = Enumerable.Range(0, settings.Clients).Select(c => new ClientLedger(c, TestEvents.ClientId(c))).ToArray();
        var stats = new LoadStats(latencyPerSecond: true);
        var options = new LoadClientOptions
        {
            Window = settings.Window,
            OnAcked = (key, events) =>
            {
                var (client, n) = TestEvents.Unpack(key);
                for (var i = 0; i < events; i++)
                {
                    acked[client][n + i] = true;
                }

                ledgers[client].Acked(n, events);
            },
            OnRejected = (key, events, _) =>
            {
                var (client, n) = TestEvents.Unpack(key);
                ledgers[client].Rejected(n, events);
            },
            OnResent = (key, events) =>
            {
                var (client, n) = TestEvents.Unpack(key);
                ledgers[client].Resent(n, events);
            },
        };

        using var verifier = new RunVerifier(settings.BootstrapServers, settings.Topic, runId, settings.Clients, settings.EventsPerClient);
        var body = settings.Simulation == LoadSimulation.Paced
            ? LoadDriver.Paced(runId, settings.EventsPerClient, settings.Batch, settings.Interval, scheduleLag: null)
            : LoadDriver.AsFastAsAcked(runId, settings.EventsPerClient, settings.Batch);
        if (settings.Hold > TimeSpan.Zero)
        {
            body = LoadDriver.AfterHold(settings.Hold, body);
        }

        var started = Stopwatch.GetTimestamp();
        var previous = (Time: TimeSpan.Zero, Sent: 0L, Acked: 0L);
        using var progressTimer = onProgress is null ? null : new Timer(
            _ =>
            {
                var elapsed = Stopwatch.GetElapsedTime(started);
                long sent = Interlocked.Read(ref stats.EventsSent), acked = Interlocked.Read(ref stats.EventsAcked);
                var seconds = Math.Max(1e-3, (elapsed - previous.Time).TotalSeconds);
                onProgress(new ScenarioProgress(
                    elapsed, Interlocked.Read(ref stats.ConnectionsOpen), sent, acked, (sent - previous.Sent) / seconds, (acked - previous.Acked) / seconds,
                    Interlocked.Read(ref stats.EventsErrored), verifier.RecordsRead, Interlocked.Read(ref stats.Reconnects), stats.AckLatency.Percentile(99) / 1000.0));
                previous = (elapsed, sent, acked);
            },
            null, TimeSpan.FromMilliseconds(500), TimeSpan.FromMilliseconds(500));
        var timeline = new Timeline(stats, started);
        TimeSpan elapsed;
        using (var timelineStop = new CancellationTokenSource())
        {
            var sampling = timeline.RunAsync(timelineStop.Token);
            try
            {
                elapsed = await LoadDriver.RunAsync(settings.Url, settings.Clients, options, stats, body, settings.DrainTimeout, cancellationToken).ConfigureAwait(false);
            }
            finally
            {
                await timelineStop.CancelAsync().ConfigureAwait(false);
                await sampling.ConfigureAwait(false);
            }
        }

        await verifier.CatchUpAsync(settings.DrainTimeout, cancellationToken).ConfigureAwait(false);
        var metrics = settings.ScrapeMetrics
            ? await GatewayMetricsScraper.ScrapeAsync(settings.MetricsUrl ?? GatewayMetricsScraper.MetricsUrlFor(settings.Url), cancellationToken).ConfigureAwait(false)
            : null;

        long ackedEvents = 0, landed = 0, duplicated = 0, missing = 0, landedUnacked = 0;
        for (var c = 0; c < settings.Clients; c++)
        {
            for (var n = 0; n < settings.EventsPerClient; n++)
            {
                var count = verifier.LandedCount(c, n);
                if (count > 0)
                {
                    landed++;
                    duplicated += count - 1;
                }

                if (acked[c][n])
                {
                    ackedEvents++;
                    if (count == 0)
                    {
                        missing++;
                    }
                }
                else if (count > 0)
                {
                    landedUnacked++;
                }
            }
        }

        // The delivery audit of the run (the same reconciliation as chaos and the listener's --audit).
        verifier.Dispose();
        var landedEvents = new Dictionary<string, LandedEvents>(StringComparer.Ordinal);
        for (var c = 0; c < settings.Clients; c++)
        {
            ledgers[c].Sent(0, settings.EventsPerClient);
            var events = new LandedEvents();
            for (var n = 0; n < settings.EventsPerClient; n++)
            {
                for (var copy = verifier.LandedCount(c, n); copy > 0; copy--)
                {
                    events.Add(n);
                }
            }

            landedEvents[ledgers[c].ClientId] = events;
        }

        var records = ledgers.Select(l => l.Snapshot()).ToList();
        var audit = DeliveryReconciliation.Reconcile(runId, settings.Topic, records, landedEvents, verifier.Partitions);
        var auditFile = DeliveryAuditFile.From(runId, settings.Topic, settings.BootstrapServers, records, verifier.Partitions, audit);

        var duplicatedAcked = 0L;
        for (var c = 0; c < settings.Clients; c++)
        {
            for (var n = 0; n < settings.EventsPerClient; n++)
            {
                if (acked[c][n] && verifier.LandedCount(c, n) > 1)
                {
                    duplicatedAcked++;
                }
            }
        }

        return new ScenarioResult
        {
            Scenario = settings.Name,
            RunId = runId,
            Clients = settings.Clients,
            EventsPerClient = settings.EventsPerClient,
            Batch = settings.Batch,
            Seconds = elapsed.TotalSeconds,
            Sent = stats.EventsSent,
            Resent = stats.EventsResent,
            Acked = ackedEvents,
            Errored = stats.EventsErrored,
            Landed = landed,
            Duplicated = duplicated,
            DuplicatedAcked = duplicatedAcked,
            Missing = missing,
            LandedUnacked = landedUnacked,
            Reconnects = stats.Reconnects,
            DrainingFrames = stats.DrainingFrames,
            AckLatency = stats.AckLatency.Summarize(),
            LandedLatency = verifier.LandedLatency.Summarize(),
            Timeline = timeline.Seconds,
            GatewayMetrics = metrics,
            Audit = audit,
            AuditFile = auditFile,
        };
    }
}

/// <summary>A live snapshot for the progress line.</summary>
internal readonly record struct ScenarioProgress(
    TimeSpan Elapsed, long Open, long Sent, long Acked, double SentPerSecond, double AckedPerSecond, long Errored, long Landed, long Reconnects, double AckP99Ms);

/// <summary>What a scenario run measured and verified.</summary>
internal sealed record ScenarioResult
{
    public required string Scenario { get; init; }
    public required string RunId { get; init; }
    public int Clients { get; init; }
    public int EventsPerClient { get; init; }
    public int Batch { get; init; }
    public double Seconds { get; init; }
    public long Sent { get; init; }
    public long Resent { get; init; }
    public long Acked { get; init; }
    public long Errored { get; init; }
    public long Landed { get; init; }
    /// <summary>Extra copies in Kafka, over all events.</summary>
    public long Duplicated { get; init; }
    /// <summary>Acked events that landed more than once.</summary>
    public long DuplicatedAcked { get; init; }
    /// <summary>Acked events that did not land.</summary>
    public long Missing { get; init; }
    /// <summary>Events that landed though their ack never came (allowed: at-least-once).</summary>
    public long LandedUnacked { get; init; }
    public long Reconnects { get; init; }
    public long DrainingFrames { get; init; }
    public required LatencySummary AckLatency { get; init; }
    public required LatencySummary LandedLatency { get; init; }
    /// <summary>The run second by second: events/s sent and acked, send-to-ack p50/p99 of each second.</summary>
    public IReadOnlyList<TimelineSecond> Timeline { get; init; } = [];
    /// <summary>The gateway's /metrics histograms at the end of the run; null when not asked for.</summary>
    public GatewayMetrics? GatewayMetrics { get; init; }
    /// <summary>The delivery audit: per clientId and per partition.</summary>
    public AuditResult? Audit { get; init; }
    /// <summary>The audit file's content, written next to the report.</summary>
    [JsonIgnore]
    public DeliveryAuditFile? AuditFile { get; init; }

    /// <summary>Every acked event landed exactly once, and every event sent was acked or rejected.</summary>
    public bool Passed => Missing == 0 && DuplicatedAcked == 0 && Acked + Errored == (long)Clients * EventsPerClient;

    public double EventsPerSecond => Seconds == 0 ? 0 : Acked / Seconds;
}
