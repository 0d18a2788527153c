namespace Ingest.LoadTest.Metrics;

/// <summary>One cumulative bucket: observations less than or equal to <see cref="UpperBound"/>.</summary>
internal readonly record struct HistogramBucket(double UpperBound, double CumulativeCount);

/// <summary>One Prometheus histogram series: a family and one set of labels (without <c>le</c>).</summary>
internal sealed class HistogramSeries(string name, IReadOnlyList<KeyValuePair<string, string>> labels)
{
    public string Name { get; } = name;

    public IReadOnlyList<KeyValuePair<string, string>> Labels { get; } = labels;

    /// <summary>Cumulative buckets in increasing upper bound, <c>+Inf</c> last.</summary>
    public List<HistogramBucket> Buckets { get; } = [];

    /// <summary>The <c>_sum</c> sample; NaN when absent.</summary>
    public double Sum { get; set; } = double.NaN;

    /// <summary>The <c>_count</c> sample; when absent, the <c>+Inf</c> bucket's count.</summary>
    public double Count
    {
        get => double.IsNaN(field) && Buckets.Count > 0 && double.IsPositiveInfinity(Buckets[^1].UpperBound) ? Buckets[^1].CumulativeCount : field;
        set;
    } = double.NaN;

    /// <summary>The labels as <c>key="value"</c> pairs, comma-separated (values escaped as in the text format); empty without labels.</summary>
    public string LabelText => string.Join(",", Labels.Select(l => $"{l.Key}=\"{l.Value.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal).Replace("\n", "\\n", StringComparison.Ordinal)}\""));

    /// <summary>
    /// The <paramref name="q"/> quantile (0 to 1) estimated from the buckets as Prometheus's
    /// <c>histogram_quantile</c> does: find the bucket holding the rank q x count and interpolate
    /// linearly inside it, the lowest bucket starting at 0 (when its bound is positive). A rank in
    /// the <c>+Inf</c> bucket gives the highest finite bound. NaN when there are no observations or
    /// no <c>+Inf</c> bucket (the text format requires one). The estimate is only as fine as the
    /// buckets: anywhere inside the bucket that holds it.
    /// </summary>
    public double Quantile(double q)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(q, 0);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(q, 1);
        if (Buckets.Count == 0 || !double.IsPositiveInfinity(Buckets[^1].UpperBound))
        {
            return double.NaN;
        }

        var total = Buckets[^1].CumulativeCount;
        if (total <= 0)
        {
            return double.NaN;
        }

        if (Buckets.Count == 1)
        {
            return double.NaN; // only +Inf: nothing to interpolate between
        }

        var rank = q * total;
        var index = 0;
        while (index < Buckets.Count - 1 && Buckets[index].CumulativeCount < rank)
        {
            index++;
        }

        if (index == Buckets.Count - 1)
        {
            return Buckets[^2].UpperBound; // in the +Inf bucket
        }

        var upper = Buckets[index].UpperBound;
        double lower, below;
        if (index == 0)
        {
            if (upper <= 0)
            {
                return upper;
            }

            (lower, below) = (0, 0);
        }
        else
        {
            (lower, below) = (Buckets[index - 1].UpperBound, Buckets[index - 1].CumulativeCount);
        }

        var inBucket = Buckets[index].CumulativeCount - below;
        return inBucket <= 0 ? upper : lower + ((upper - lower) * (rank - below) / inBucket);
    }

    /// <summary>Sum over count; NaN without observations.</summary>
    public double Mean => Count > 0 && !double.IsNaN(Sum) ? Sum / Count : double.NaN;
}
