using System.Diagnostics.Metrics;

namespace Ingest.Gateway.Diagnostics;

/// <summary>
/// Monotonic totals, one for each value of one tag, that an observable instrument reports and
/// <c>/stats</c> reads: the single source of both. Adding is one <see cref="Interlocked"/> add,
/// with no allocation and no lock; the tag lists are made once.
/// </summary>
internal sealed class TaggedTotals
{
    private readonly long[] _totals;
    private readonly KeyValuePair<string, object?>[][] _tags;

    /// <param name="tag">The tag's name.</param>
    /// <param name="values">Its values, in the order of the indexes given to <see cref="Add"/>.</param>
    public TaggedTotals(string tag, IReadOnlyList<string> values)
    {
        _totals = new long[values.Count];
        _tags = values.Select(v => new[] { new KeyValuePair<string, object?>(tag, v) }).ToArray();
    }

    public void Add(int index, long count = 1) => Interlocked.Add(ref _totals[index], count);

    /// <summary>The total for the value at <paramref name="index"/>.</summary>
    public long this[int index] => Volatile.Read(ref _totals[index]);

    /// <summary>The total over every value.</summary>
    public long Sum
    {
        get
        {
            var sum = 0L;
            for (var i = 0; i < _totals.Length; i++)
            {
                sum += Volatile.Read(ref _totals[i]);
            }

            return sum;
        }
    }

    /// <summary>One measurement per value, zeros included, so that every series exists from the start.</summary>
    public IEnumerable<Measurement<long>> Measure()
    {
        var measurements = new Measurement<long>[_totals.Length];
        for (var i = 0; i < measurements.Length; i++)
        {
            measurements[i] = new Measurement<long>(Volatile.Read(ref _totals[i]), _tags[i]);
        }

        return measurements;
    }
}
