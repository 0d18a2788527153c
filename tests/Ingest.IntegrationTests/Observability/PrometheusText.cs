using System.Globalization;
using System.Text;

namespace Ingest.IntegrationTests.Observability;

/// <summary>One sample of a Prometheus text exposition: <c>name{label="value",...} value</c>.</summary>
internal sealed record PrometheusSample(string Name, IReadOnlyDictionary<string, string> Labels, double Value)
{
    public override string ToString() =>
        $"{Name}{{{string.Join(',', Labels.Select(l => $"{l.Key}=\"{l.Value}\""))}}} {Value.ToString(CultureInfo.InvariantCulture)}";
}

/// <summary>
/// A parser of the Prometheus text format (version 0.0.4) for the tests: every sample line, its
/// labels unescaped (<c>\\</c>, <c>\"</c>, <c>\n</c>), and the <c># TYPE</c> of each metric family.
/// Comments other than <c># TYPE</c> are skipped; a line that does not parse fails the test.
/// </summary>
internal sealed class PrometheusText
{
    private PrometheusText(IReadOnlyList<PrometheusSample> samples, IReadOnlyDictionary<string, string> types)
    {
        Samples = samples;
        Types = types;
    }

    public IReadOnlyList<PrometheusSample> Samples { get; }

    /// <summary>Metric family name to its type (<c>counter</c>, <c>gauge</c>, <c>histogram</c>, ...).</summary>
    public IReadOnlyDictionary<string, string> Types { get; }

    public static PrometheusText Parse(string text)
    {
        var samples = new List<PrometheusSample>();
        var types = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var raw in text.Split('\n'))
        {
            var line = raw.TrimEnd('\r');
            if (line.Length == 0)
            {
                continue;
            }

            if (line.StartsWith('#'))
            {
                var parts = line.Split(' ', 4, StringSplitOptions.RemoveEmptyEntries);
                if (parts is ["#", "TYPE", var family, var type])
                {
                    types[family] = type;
                }

                continue;
            }

            samples.Add(ParseSample(line));
        }

        return new PrometheusText(samples, types);
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

    private static PrometheusSample ParseSample(string line)
    {
        var position = 0;
        while (position < line.Length && line[position] is not ('{' or ' '))
        {
            position++;
        }

        var name = line[..position];
        var labels = new Dictionary<string, string>(StringComparer.Ordinal);
        if (position < line.Length && line[position] == '{')
        {
            position++;
            while (line[position] != '}')
            {
                var equals = line.IndexOf('=', position);
                var label = line[position..equals].Trim();
                position = equals + 1;
                if (line[position] != '"')
                {
                    throw new FormatException($"label {label} has no quoted value: {line}");
                }

                position++;
                var value = new StringBuilder();
                while (line[position] != '"')
                {
                    if (line[position] == '\\')
                    {
                        position++;
                        value.Append(line[position] switch { 'n' => '\n', var c => c });
                    }
                    else
                    {
                        value.Append(line[position]);
                    }

                    position++;
                }

                labels[label] = value.ToString();
                position++;
                if (line[position] == ',')
                {
                    position++;
                }
            }

            position++;
        }

        var fields = line[position..].Split(' ', StringSplitOptions.RemoveEmptyEntries);
        if (fields.Length is < 1 or > 2)
        {
            throw new FormatException($"not a sample line: {line}");
        }

        var number = fields[0] switch
        {
            "+Inf" => double.PositiveInfinity,
            "-Inf" => double.NegativeInfinity,
            "NaN" => double.NaN,
            var text => double.Parse(text, NumberStyles.Float, CultureInfo.InvariantCulture),
        };
        return new PrometheusSample(name, labels, number);
    }
}
