using System.Diagnostics;
using System.Globalization;
using System.Text;
using Ingest.LoadTest.Bench;
using Ingest.LoadTest.Metrics;

namespace Ingest.LoadTest.Chaos;

/// <summary>
/// One sample of the gateway process: from <c>/proc/&lt;pid&gt;</c> its RSS (<c>VmRSS</c>), threads
/// and open descriptors; from its <c>/metrics</c> (the OpenTelemetry runtime instrumentation) the
/// GC heap after the last collection (<c>dotnet_gc_last_collection_heap_size_bytes</c>, summed over
/// gen0, gen1, gen2, LOH and POH) and the collections per generation since it started
/// (<c>dotnet_gc_collections_total</c>, cumulative). Null where a source did not answer.
/// </summary>
internal sealed record ResourceSample(
    double ElapsedSeconds, int ProcessId, long RssBytes, double? GcHeapBytes, double? Gen0Collections, double? Gen1Collections, double? Gen2Collections, int Threads, int Descriptors);

/// <summary>Samples the gateway every interval until stopped (never per event).</summary>
internal sealed class ResourceSampler(Func<GatewayProcess?> gateway, long started, TimeSpan interval)
{
    private readonly List<ResourceSample> _samples = [];
    private readonly Lock _lock = new();

    public IReadOnlyList<ResourceSample> Samples
    {
        get
        {
            lock (_lock)
            {
                return _samples.ToArray();
            }
        }
    }

    public async Task RunAsync(CancellationToken cancellationToken)
    {
        try
        {
            for (var i = 0; ; i++)
            {
                var wait = (interval * i) - Stopwatch.GetElapsedTime(started);
                if (wait > TimeSpan.Zero)
                {
                    await Task.Delay(wait, cancellationToken).ConfigureAwait(false);
                }

                await SampleAsync(cancellationToken).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }

        await SampleAsync(CancellationToken.None).ConfigureAwait(false); // the end of the run
    }

    public async Task SampleAsync(CancellationToken cancellationToken)
    {
        if (gateway() is not { HasExited: false } process)
        {
            return; // being restarted
        }

        var at = Stopwatch.GetElapsedTime(started).TotalSeconds;
        var pid = process.ProcessId;
        var rss = ProcessProbe.ResidentBytes(pid);
        var threads = ProcessProbe.Threads(pid);
        var descriptors = ProcessProbe.Descriptors(pid);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(TimeSpan.FromSeconds(5));
        string? text;
        try
        {
            text = await process.GetMetricsTextAsync(timeout.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            text = null;
        }

        var (heap, gen0, gen1, gen2) = RuntimeMetrics(text);
        if (rss < 0)
        {
            return;
        }

        lock (_lock)
        {
            _samples.Add(new ResourceSample(Math.Round(at, 1), pid, rss, heap, gen0, gen1, gen2, threads, descriptors));
        }
    }

    /// <summary>The GC heap (sum over generations) and the collections per generation, from Prometheus text.</summary>
    internal static (double? Heap, double? Gen0, double? Gen1, double? Gen2) RuntimeMetrics(string? text)
    {
        if (text is null)
        {
            return (null, null, null, null);
        }

        PrometheusScrape scrape;
        try
        {
            scrape = PrometheusText.Parse(text);
        }
        catch (FormatException)
        {
            return (null, null, null, null);
        }

        double? heap = null, gen0 = null, gen1 = null, gen2 = null;
        foreach (var sample in scrape.Families.SelectMany(f => f.Samples))
        {
            if (sample.Name == "dotnet_gc_last_collection_heap_size_bytes")
            {
                heap = (heap ?? 0) + sample.Value;
            }
            else if (sample.Name == "dotnet_gc_collections_total")
            {
                switch (sample.Label("gc_heap_generation"))
                {
                    case "gen0": gen0 = sample.Value; break;
                    case "gen1": gen1 = sample.Value; break;
                    case "gen2": gen2 = sample.Value; break;
                }
            }
        }

        return (heap, gen0, gen1, gen2);
    }

    public static string ToCsv(IReadOnlyList<ResourceSample> samples)
    {
        static string N(double? v) => v is { } x ? x.ToString("R", CultureInfo.InvariantCulture) : "";
        var csv = new StringBuilder("elapsed_s,pid,rss_bytes,gc_heap_bytes,gen0_collections,gen1_collections,gen2_collections,threads,descriptors\n");
        foreach (var s in samples)
        {
            csv.Append(CultureInfo.InvariantCulture, $"{N(s.ElapsedSeconds)},{s.ProcessId},{s.RssBytes},{N(s.GcHeapBytes)},{N(s.Gen0Collections)},{N(s.Gen1Collections)},{N(s.Gen2Collections)},{s.Threads},{s.Descriptors}\n");
        }

        return csv.ToString();
    }
}

/// <summary>The verdict of the trend check on one series.</summary>
internal sealed record TrendVerdict(string Series, string Unit, string Verdict, double? FirstThird, double? LastThird, double? SlopePerHour, string Note);

/// <summary>
/// Whether a resource of the gateway grows over a long run. Method: the samples after a warm-up
/// (the first tenth of the run) are cut in thirds, and the mean of the last third is compared with
/// the mean of the first; the series GROWS when the difference is above both a relative and an
/// absolute tolerance. Means of thirds rather than a slope or the end points, because the GC
/// heap and RSS move in a sawtooth (up with allocation, down at each collection): a mean over a
/// third of the run covers many teeth, while a slope or two end points depends on where in a
/// tooth they fall; the middle third keeps the two windows apart, so a slow leak shows as their
/// difference. The collection counters are cumulative (they always grow): their rate per minute
/// between samples is checked the same way instead, since a rising rate of gen2 collections is
/// what a growing heap does to them. The least-squares slope (per hour) is shown beside, for reading.
/// </summary>
internal static class TrendCheck
{
    /// <summary>Samples after the warm-up needed for a verdict.</summary>
    internal const int MinimumSamples = 6;

    public static IReadOnlyList<TrendVerdict> Check(IReadOnlyList<ResourceSample> samples)
    {
        var restarted = samples.Select(s => s.ProcessId).Distinct().Count() > 1;
        var verdicts = new List<TrendVerdict>
        {
            Level("RSS", "MiB", samples, s => s.RssBytes / 1048576.0, relative: 0.10, absolute: 16, restarted),
            Level("GC heap", "MiB", samples, s => s.GcHeapBytes / 1048576.0, relative: 0.20, absolute: 16, restarted),
            Level("threads", "", samples, s => s.Threads, relative: 0.10, absolute: 4, restarted),
            Level("descriptors", "", samples, s => s.Descriptors, relative: 0.10, absolute: 8, restarted),
            Rate("gen0 collections", samples, s => s.Gen0Collections, relative: 0.5, absolute: 10, restarted),
            Rate("gen1 collections", samples, s => s.Gen1Collections, relative: 0.5, absolute: 5, restarted),
            Rate("gen2 collections", samples, s => s.Gen2Collections, relative: 0.5, absolute: 1, restarted),
        };
        return verdicts;
    }

    /// <summary>Whether any series GROWS.</summary>
    public static bool AnyGrows(IReadOnlyList<TrendVerdict> verdicts) => verdicts.Any(v => v.Verdict == "GROWS");

    internal static TrendVerdict Level(string name, string unit, IReadOnlyList<ResourceSample> samples, Func<ResourceSample, double?> value, double relative, double absolute, bool restarted)
    {
        var points = AfterWarmUp(samples).Select(s => (X: s.ElapsedSeconds, Y: value(s))).Where(p => p.Y is { } y && y >= 0).Select(p => (p.X, Y: p.Y!.Value)).ToList();
        return Verdict(name, unit, points, relative, absolute, restarted);
    }

    internal static TrendVerdict Rate(string name, IReadOnlyList<ResourceSample> samples, Func<ResourceSample, double?> value, double relative, double absolute, bool restarted)
    {
        var kept = AfterWarmUp(samples).ToList();
        var points = new List<(double X, double Y)>();
        for (var i = 1; i < kept.Count; i++)
        {
            if (kept[i].ProcessId == kept[i - 1].ProcessId && value(kept[i]) is { } b && value(kept[i - 1]) is { } a && kept[i].ElapsedSeconds > kept[i - 1].ElapsedSeconds)
            {
                points.Add((kept[i].ElapsedSeconds, (b - a) / (kept[i].ElapsedSeconds - kept[i - 1].ElapsedSeconds) * 60));
            }
        }

        return Verdict(name + " per minute", "/min", points, relative, absolute, restarted);
    }

    private static IEnumerable<ResourceSample> AfterWarmUp(IReadOnlyList<ResourceSample> samples)
    {
        if (samples.Count == 0)
        {
            return [];
        }

        var warmUp = samples[0].ElapsedSeconds + ((samples[^1].ElapsedSeconds - samples[0].ElapsedSeconds) / 10);
        return samples.Where(s => s.ElapsedSeconds >= warmUp);
    }

    private static TrendVerdict Verdict(string name, string unit, List<(double X, double Y)> points, double relative, double absolute, bool restarted)
    {
        if (points.Count < MinimumSamples)
        {
            return new TrendVerdict(name, unit, "n/a", null, null, null, $"{points.Count} samples after the warm-up; {MinimumSamples} needed");
        }

        var third = points.Count / 3;
        var first = points.Take(third).Average(p => p.Y);
        var last = points.Skip(points.Count - third).Average(p => p.Y);
        var slope = Slope(points) * 3600;
        var tolerance = Math.Max(relative * Math.Abs(first), absolute);
        var grows = last - first > tolerance;
        var note = string.Create(CultureInfo.InvariantCulture, $"last third - first third = {last - first:0.##} {unit}, tolerance {tolerance:0.##} (max of {relative:P0} and {absolute:0.##})");
        if (restarted)
        {
            note += "; the gateway was restarted during the run (each process from its own start)";
        }

        return new TrendVerdict(name, unit, grows ? "GROWS" : "FLAT", first, last, slope, note);
    }

    /// <summary>Least-squares slope of y over x (per second of x).</summary>
    internal static double Slope(IReadOnlyList<(double X, double Y)> points)
    {
        var mx = points.Average(p => p.X);
        var my = points.Average(p => p.Y);
        double sxy = 0, sxx = 0;
        foreach (var (x, y) in points)
        {
            sxy += (x - mx) * (y - my);
            sxx += (x - mx) * (x - mx);
        }

        return sxx == 0 ? 0 : sxy / sxx;
    }
}
