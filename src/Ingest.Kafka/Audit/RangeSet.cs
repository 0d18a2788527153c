namespace Ingest.Kafka.Audit;

/// <summary>
/// A set of non-negative integers kept as sorted, disjoint, non-adjacent ranges: an event number
/// set of a long run (acked, landed, resent) costs a few ranges, not a slot per event, because
/// events of one client arrive almost in order. Adding at the end is O(1); elsewhere O(log n) to
/// find and O(ranges) to insert. Not thread-safe.
/// </summary>
public sealed class RangeSet
{
    private readonly List<(int First, int Last)> _ranges = [];

    /// <summary>Numbers in the set.</summary>
    public long Count { get; private set; }

    /// <summary>The ranges, in order, each inclusive.</summary>
    public IReadOnlyList<(int First, int Last)> Ranges => _ranges;

    /// <summary>Builds a set from inclusive ranges (any order, overlaps allowed).</summary>
    public static RangeSet Of(IEnumerable<(int First, int Last)> ranges)
    {
        var set = new RangeSet();
        foreach (var (first, last) in ranges)
        {
            set.AddRange(first, last);
        }

        return set;
    }

    public bool Contains(int n)
    {
        var i = IndexAtOrBefore(n);
        return i >= 0 && _ranges[i].Last >= n;
    }

    /// <summary>Adds <paramref name="n"/>; false when it was already there.</summary>
    public bool Add(int n)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(n);
        if (_ranges.Count > 0 && _ranges[^1] is var tail && n >= tail.First)
        {
            // The common case: at or past the last range.
            if (n <= tail.Last)
            {
                return false;
            }

            if (n == tail.Last + 1)
            {
                _ranges[^1] = (tail.First, n);
                Count++;
                return true;
            }

            _ranges.Add((n, n));
            Count++;
            return true;
        }

        if (Contains(n))
        {
            return false;
        }

        AddRange(n, n);
        return true;
    }

    /// <summary>Adds every number from <paramref name="first"/> to <paramref name="last"/> inclusive.</summary>
    public void AddRange(int first, int last)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(first);
        ArgumentOutOfRangeException.ThrowIfLessThan(last, first);
        if (_ranges.Count == 0 || first > _ranges[^1].Last + 1)
        {
            _ranges.Add((first, last));
            Count += (long)last - first + 1;
            return;
        }

        // Merge with every range that overlaps or touches [first, last].
        var start = IndexAtOrBefore(first);
        if (start < 0 || _ranges[start].Last + 1 < first)
        {
            start++;
        }

        var end = start;
        var mergedFirst = first;
        var mergedLast = last;
        while (end < _ranges.Count && _ranges[end].First <= (long)last + 1)
        {
            mergedFirst = Math.Min(mergedFirst, _ranges[end].First);
            mergedLast = Math.Max(mergedLast, _ranges[end].Last);
            Count -= (long)_ranges[end].Last - _ranges[end].First + 1;
            end++;
        }

        _ranges.RemoveRange(start, end - start);
        _ranges.Insert(start, (mergedFirst, mergedLast));
        Count += (long)mergedLast - mergedFirst + 1;
    }

    /// <summary>Numbers in both sets.</summary>
    public static long IntersectionCount(RangeSet a, RangeSet b)
    {
        ArgumentNullException.ThrowIfNull(a);
        ArgumentNullException.ThrowIfNull(b);
        long count = 0;
        int i = 0, j = 0;
        while (i < a._ranges.Count && j < b._ranges.Count)
        {
            var (af, al) = a._ranges[i];
            var (bf, bl) = b._ranges[j];
            var first = Math.Max(af, bf);
            var last = Math.Min(al, bl);
            if (first <= last)
            {
                count += (long)last - first + 1;
            }

            if (al < bl)
            {
                i++;
            }
            else
            {
                j++;
            }
        }

        return count;
    }

    /// <summary>The first numbers of <paramref name="a"/> that are not in <paramref name="b"/>, at most <paramref name="limit"/>.</summary>
    public static IReadOnlyList<int> Except(RangeSet a, RangeSet b, int limit)
    {
        ArgumentNullException.ThrowIfNull(a);
        ArgumentNullException.ThrowIfNull(b);
        var found = new List<int>();
        foreach (var (first, last) in a._ranges)
        {
            for (var n = first; n <= last && found.Count < limit; n++)
            {
                // Jump over a covering range of b at once.
                var k = b.IndexAtOrBefore(n);
                if (k >= 0 && b._ranges[k].Last >= n)
                {
                    n = b._ranges[k].Last;
                    continue;
                }

                found.Add(n);
            }

            if (found.Count >= limit)
            {
                break;
            }
        }

        return found;
    }

    /// <summary>A copy.</summary>
    public RangeSet Clone()
    {
        var copy = new RangeSet();
        copy._ranges.AddRange(_ranges);
        copy.Count = Count;
        return copy;
    }

    /// <summary>Inclusive ranges as <c>first-last</c> (or one number), comma-separated.</summary>
    public override string ToString() =>
        string.Join(',', _ranges.Select(r => r.First == r.Last
            ? r.First.ToString(System.Globalization.CultureInfo.InvariantCulture)
            : string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{r.First}-{r.Last}")));

    /// <summary>Index of the last range whose first number is at or below <paramref name="n"/>, or -1.</summary>
    private int IndexAtOrBefore(int n)
    {
        int lo = 0, hi = _ranges.Count - 1, found = -1;
        while (lo <= hi)
        {
            var mid = (lo + hi) >>> 1;
            if (_ranges[mid].First <= n)
            {
                found = mid;
                lo = mid + 1;
            }
            else
            {
                hi = mid - 1;
            }
        }

        return found;
    }
}
