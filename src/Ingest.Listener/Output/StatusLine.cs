using System.Globalization;
using System.Text;

namespace Ingest.Listener.Output;

/// <summary>
/// The live status line: the rate over the last second and the last minute, the total, and the
/// consumer lag per partition (high watermark minus position).
/// </summary>
internal sealed class StatusLine
{
    private readonly RateWindow _lastSecond = new(TimeSpan.FromSeconds(1));
    private readonly RateWindow _lastMinute = new(TimeSpan.FromMinutes(1));

    /// <summary>Records the total at <paramref name="at"/> (time since the run started).</summary>
    public void Sample(TimeSpan at, long total)
    {
        _lastSecond.Sample(at, total);
        _lastMinute.Sample(at, total);
    }

    /// <summary>Renders the line; a null lag means the partition's position or watermark is not known yet.</summary>
    public string Render(long total, IReadOnlyList<(int Partition, long? Lag)> lags)
    {
        var culture = CultureInfo.InvariantCulture;
        var line = new StringBuilder(128);
        line.Append(culture, $"{_lastSecond.PerSecond():N0} events/s, {_lastMinute.PerSecond():N0}/s in the last minute | total {total:N0} | lag");
        if (lags.Count == 0)
        {
            line.Append(" (no partitions assigned)");
        }

        foreach (var (partition, lag) in lags)
        {
            line.Append(culture, $" {partition}:");
            if (lag is { } known)
            {
                line.Append(culture, $"{known:N0}");
            }
            else
            {
                line.Append('?');
            }
        }

        return line.ToString();
    }
}
