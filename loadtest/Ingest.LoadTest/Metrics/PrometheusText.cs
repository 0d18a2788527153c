using System.Globalization;
using System.Text;

namespace Ingest.LoadTest.Metrics;

/// <summary>
/// A parser for the Prometheus text exposition format, version 0.0.4
/// (https://prometheus.io/docs/instrumenting/exposition_formats/#text-based-format), which is what
/// the gateway's <c>GET /metrics</c> answers to <c>Accept: text/plain</c>. It also reads what an
/// OpenMetrics answer adds: <c># UNIT</c> and <c># EOF</c> lines and exemplars after a sample
/// (<c> # {trace_id="…"} 0.5</c>), which it skips.
/// </summary>
internal static class PrometheusText
{
    /// <summary>Parses a whole exposition; throws <see cref="FormatException"/> naming the line of the first error.</summary>
    public static PrometheusScrape Parse(string text)
    {
        var families = new Dictionary<string, MetricFamily>(StringComparer.Ordinal);
        var order = new List<string>();
        var lineNumber = 0;
        foreach (var rawLine in text.Split('\n'))
        {
            lineNumber++;
            var line = rawLine.TrimEnd('\r').Trim(' ', '\t');
            if (line.Length == 0)
            {
                continue;
            }

            try
            {
                if (line[0] == '#')
                {
                    ParseComment(line, families, order);
                }
                else
                {
                    var sample = ParseSample(line);
                    FamilyOf(sample.Name, families, order).Samples.Add(sample);
                }
            }
            catch (FormatException e)
            {
                throw new FormatException($"line {lineNumber}: {e.Message}: {Shorten(line)}", e);
            }
        }

        return new PrometheusScrape(order.Select(name => families[name]).ToList());
    }

    /// <summary>One sample line: <c>name{label="value",...} value [timestamp]</c>.</summary>
    internal static Sample ParseSample(string line)
    {
        var reader = new LineReader(line);
        var name = reader.ReadName(allowColon: true);
        if (name.Length == 0)
        {
            throw new FormatException("a sample starts with a metric name");
        }

        var labels = new List<KeyValuePair<string, string>>();
        reader.SkipBlanks();
        if (reader.TryRead('{'))
        {
            reader.SkipBlanks();
            while (!reader.TryRead('}'))
            {
                var label = reader.ReadName(allowColon: false);
                if (label.Length == 0)
                {
                    throw new FormatException("a label name was expected");
                }

                reader.SkipBlanks();
                reader.Expect('=');
                reader.SkipBlanks();
                labels.Add(new(label, reader.ReadQuoted()));
                reader.SkipBlanks();
                if (!reader.TryRead(','))
                {
                    reader.SkipBlanks();
                    reader.Expect('}');
                    break;
                }

                reader.SkipBlanks();
            }
        }

        reader.SkipBlanks();
        var value = ParseValue(reader.ReadToken());
        reader.SkipBlanks();
        long? timestamp = null;
        if (!reader.AtEnd && !reader.Peek('#'))
        {
            var token = reader.ReadToken();
            timestamp = long.TryParse(token, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var ms)
                ? ms
                // OpenMetrics timestamps are seconds with decimals.
                : (long)(ParseValue(token) * 1000);
            reader.SkipBlanks();
        }

        if (!reader.AtEnd && !reader.Peek('#'))
        {
            throw new FormatException("unexpected text after the value and timestamp");
        }

        return new Sample(name, labels, value, timestamp);
    }

    /// <summary>
    /// A sample value: a float, or <c>NaN</c>, <c>+Inf</c>, <c>-Inf</c> in any case and with
    /// <c>Infinity</c> spelled out, as Go's ParseFloat (which Prometheus uses) reads them.
    /// </summary>
    internal static double ParseValue(string token)
    {
        var sign = token.Length > 0 && token[0] is '+' or '-' ? token[0] : '+';
        var word = token.TrimStart('+', '-');
        if (word.Equals("Inf", StringComparison.OrdinalIgnoreCase) || word.Equals("Infinity", StringComparison.OrdinalIgnoreCase))
        {
            return sign == '-' ? double.NegativeInfinity : double.PositiveInfinity;
        }

        if (token.Equals("NaN", StringComparison.OrdinalIgnoreCase))
        {
            return double.NaN;
        }

        return double.TryParse(token, NumberStyles.Float, CultureInfo.InvariantCulture, out var value)
            ? value
            : throw new FormatException($"'{token}' is not a number");
    }

    private static void ParseComment(string line, Dictionary<string, MetricFamily> families, List<string> order)
    {
        var reader = new LineReader(line);
        reader.Expect('#');
        reader.SkipBlanks();
        var keyword = reader.ReadToken();
        if (keyword is not ("HELP" or "TYPE" or "UNIT"))
        {
            return; // a comment (or OpenMetrics' # EOF)
        }

        reader.SkipBlanks();
        var name = reader.ReadName(allowColon: true);
        if (name.Length == 0)
        {
            throw new FormatException($"# {keyword} needs a metric name");
        }

        var family = families.TryGetValue(name, out var known) ? known : Add(name, families, order);
        reader.SkipBlanks();
        var rest = reader.Rest();
        switch (keyword)
        {
            case "TYPE":
                family.Type = rest switch
                {
                    "counter" => MetricType.Counter,
                    "gauge" => MetricType.Gauge,
                    "histogram" => MetricType.Histogram,
                    "summary" => MetricType.Summary,
                    "untyped" or "unknown" => MetricType.Untyped,
                    "gaugehistogram" or "stateset" or "info" => MetricType.Untyped,
                    _ => throw new FormatException($"unknown metric type '{rest}'"),
                };
                break;
            case "HELP":
                family.Help = UnescapeHelp(rest);
                break;
            default:
                family.Unit = rest;
                break;
        }
    }

    /// <summary>
    /// The family a sample belongs to: its own name, or for <c>_bucket</c>, <c>_sum</c>, <c>_count</c>
    /// (and OpenMetrics' <c>_created</c>, <c>_total</c>) the declared histogram, summary or counter it extends.
    /// </summary>
    private static MetricFamily FamilyOf(string sampleName, Dictionary<string, MetricFamily> families, List<string> order)
    {
        foreach (var suffix in (ReadOnlySpan<string>)["_bucket", "_sum", "_count", "_created", "_total"])
        {
            if (sampleName.EndsWith(suffix, StringComparison.Ordinal)
                && families.TryGetValue(sampleName[..^suffix.Length], out var declared)
                && declared.Type is MetricType.Histogram or MetricType.Summary or MetricType.Counter)
            {
                return declared;
            }
        }

        return families.TryGetValue(sampleName, out var family) ? family : Add(sampleName, families, order);
    }

    private static MetricFamily Add(string name, Dictionary<string, MetricFamily> families, List<string> order)
    {
        var family = new MetricFamily(name);
        families.Add(name, family);
        order.Add(name);
        return family;
    }

    /// <summary>HELP text escapes only <c>\\</c> and <c>\n</c>.</summary>
    private static string UnescapeHelp(string text)
    {
        if (!text.Contains('\\', StringComparison.Ordinal))
        {
            return text;
        }

        var result = new StringBuilder(text.Length);
        for (var i = 0; i < text.Length; i++)
        {
            if (text[i] == '\\' && i + 1 < text.Length && text[i + 1] is '\\' or 'n')
            {
                result.Append(text[++i] == 'n' ? '\n' : '\\');
            }
            else
            {
                result.Append(text[i]);
            }
        }

        return result.ToString();
    }

    private static string Shorten(string line) => line.Length <= 120 ? line : line[..117] + "...";

    /// <summary>A cursor over one line.</summary>
    private ref struct LineReader(string line)
    {
        private readonly string _line = line;
        private int _at;

        public readonly bool AtEnd => _at >= _line.Length;

        public readonly bool Peek(char c) => _at < _line.Length && _line[_at] == c;

        public bool TryRead(char c)
        {
            if (Peek(c))
            {
                _at++;
                return true;
            }

            return false;
        }

        public void Expect(char c)
        {
            if (!TryRead(c))
            {
                throw new FormatException(AtEnd ? $"'{c}' expected at the end of the line" : $"'{c}' expected at column {_at + 1}, found '{_line[_at]}'");
            }
        }

        public void SkipBlanks()
        {
            while (_at < _line.Length && _line[_at] is ' ' or '\t')
            {
                _at++;
            }
        }

        /// <summary>[a-zA-Z_:][a-zA-Z0-9_:]* for metric names, without ':' for label names.</summary>
        public string ReadName(bool allowColon)
        {
            var start = _at;
            while (_at < _line.Length && (char.IsAsciiLetter(_line[_at]) || _line[_at] == '_' || (allowColon && _line[_at] == ':') || (_at > start && char.IsAsciiDigit(_line[_at]))))
            {
                _at++;
            }

            return _line[start.._at];
        }

        /// <summary>A double-quoted label value with the escapes <c>\\</c>, <c>\"</c> and <c>\n</c>.</summary>
        public string ReadQuoted()
        {
            Expect('"');
            var value = new StringBuilder();
            while (true)
            {
                if (AtEnd)
                {
                    throw new FormatException("a label value is not closed");
                }

                var c = _line[_at++];
                if (c == '"')
                {
                    return value.ToString();
                }

                if (c != '\\')
                {
                    value.Append(c);
                    continue;
                }

                if (AtEnd)
                {
                    throw new FormatException("a label value ends in a lone backslash");
                }

                var escaped = _line[_at++];
                value.Append(escaped switch
                {
                    '\\' => '\\',
                    '"' => '"',
                    'n' => '\n',
                    _ => throw new FormatException($"unknown escape '\\{escaped}' in a label value"),
                });
            }
        }

        /// <summary>Up to the next blank.</summary>
        public string ReadToken()
        {
            var start = _at;
            while (_at < _line.Length && _line[_at] is not (' ' or '\t'))
            {
                _at++;
            }

            if (_at == start)
            {
                throw new FormatException("a value was expected");
            }

            return _line[start.._at];
        }

        public readonly string Rest() => _line[_at..];
    }
}

/// <summary>The metric types of the text format.</summary>
internal enum MetricType
{
    Untyped,
    Counter,
    Gauge,
    Histogram,
    Summary,
}

/// <summary>All the samples of one metric name (a histogram's <c>_bucket</c>, <c>_sum</c> and <c>_count</c> included).</summary>
internal sealed class MetricFamily(string name)
{
    public string Name { get; } = name;

    public MetricType Type { get; set; } = MetricType.Untyped;

    public string? Help { get; set; }

    public string? Unit { get; set; }

    public List<Sample> Samples { get; } = [];
}

/// <summary>One sample line: the name as written (with its suffix), the labels in order, the value.</summary>
internal sealed record Sample(string Name, IReadOnlyList<KeyValuePair<string, string>> Labels, double Value, long? TimestampMs)
{
    public string? Label(string name)
    {
        foreach (var label in Labels)
        {
            if (label.Key == name)
            {
                return label.Value;
            }
        }

        return null;
    }
}

/// <summary>A parsed exposition: its metric families, in the order they appeared.</summary>
internal sealed record PrometheusScrape(IReadOnlyList<MetricFamily> Families)
{
    /// <summary>
    /// Every histogram series: one per family and label set (<c>le</c> aside), with its cumulative
    /// buckets in increasing <c>le</c>, its <c>_sum</c> and its <c>_count</c>.
    /// </summary>
    public IReadOnlyList<HistogramSeries> Histograms()
    {
        var series = new List<HistogramSeries>();
        foreach (var family in Families.Where(f => f.Type == MetricType.Histogram))
        {
            var byLabels = new Dictionary<string, HistogramSeries>(StringComparer.Ordinal);
            foreach (var sample in family.Samples)
            {
                var labels = sample.Labels.Where(l => l.Key != "le").ToList();
                var key = string.Join('\u0001', labels.Select(l => l.Key + "\u0002" + l.Value));
                if (!byLabels.TryGetValue(key, out var one))
                {
                    one = new HistogramSeries(family.Name, labels);
                    byLabels.Add(key, one);
                    series.Add(one);
                }

                if (sample.Name == family.Name + "_bucket")
                {
                    var le = sample.Label("le") ?? throw new FormatException($"{sample.Name} without an le label");
                    one.Buckets.Add(new HistogramBucket(PrometheusText.ParseValue(le), sample.Value));
                }
                else if (sample.Name == family.Name + "_sum")
                {
                    one.Sum = sample.Value;
                }
                else if (sample.Name == family.Name + "_count")
                {
                    one.Count = sample.Value;
                }
            }
        }

        foreach (var one in series)
        {
            one.Buckets.Sort((a, b) => a.UpperBound.CompareTo(b.UpperBound));
        }

        return series;
    }
}
