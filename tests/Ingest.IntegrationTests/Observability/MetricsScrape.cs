using System.Globalization;
using Ingest.LoadTest.Metrics;

namespace Ingest.IntegrationTests.Observability;

/// <summary>One sample of a Prometheus text exposition, its labels by name.</summary>
internal sealed record PrometheusSample(string Name, IReadOnlyDictionary<string, string> Labels, double Value)
{
    public override string ToString() =>
        $"{Name}{{{string.Join(',', Labels.Select(l => $"{l.Key}=\"{l.Value}\""))}}} {Value.ToString(CultureInfo.InvariantCulture)}";
}

/// <summary>
/// A scrape of <c>GET /metrics</c>, parsed by the load harness's parser of the Prometheus text
/// format (<see cref="PrometheusText"/>), as the tests look it up: samples by name and labels, and
/// each family's <c># TYPE</c>.
/// </summary>
internal sealed class MetricsScrape
{
    private MetricsScrape(IReadOnlyList<PrometheusSample> samples, IReadOnlyDictionary<string, string> types)
    {
        Samples = samples;
        Types = types;
    }

    public IReadOnlyList<PrometheusSample> Samples { get; }

    /// <summary>Metric family name to its type in lower case (<c>counter</c>, <c>gauge</c>, <c>histogram</c>, ...).</summary>
    public IReadOnlyDictionary<string, string> Types { get; }

    public static MetricsScrape Parse(string text)
    {
        var scrape = PrometheusText.Parse(text);
        return new MetricsScrape(
            scrape.Families.SelectMany(f => f.Samples).Select(s => new PrometheusSample(s.Name, s.Labels.ToDictionary(l => l.Key, l => l.Value, StringComparer.Ordinal), s.Value)).ToArray(),
            scrape.Families.ToDictionary(f => f.Name, f => f.Type.ToString().ToLowerInvariant(), StringComparer.Ordinal));
    }

    /// <summary>The samples named <paramref name="name"/> whose labels include every one of <paramref name="labels"/>.</summary>
    public IReadOnlyList<PrometheusSample> Find(string name, params (string Label, string Value)[] labels) =>
        Samples.Where(s => s.Name == name && labels.All(l => s.Labels.TryGetValue(l.Label, out var v) && v == l.Value)).ToArray();

    /// <summary>The one sample named <paramref name="name"/> with these labels; fails when there is none or more.</summary>
    public double Value(string name, params (string Label, string Value)[] labels)
    {
        var found = Find(name, labels);
        return found.Count == 1
            ? found[0].Value
            : throw new InvalidOperationException($"{found.Count} samples of {name} with {string.Join(',', labels.Select(l => $"{l.Label}={l.Value}"))}; samples of that name: {string.Join(" | ", Samples.Where(s => s.Name == name))}");
    }
}
