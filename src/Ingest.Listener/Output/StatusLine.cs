using System.Buffers;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Ingest.Listener.Consuming;

namespace Ingest.Listener.Output;

/// <summary>
/// The status: the rate over the last second and the last minute, the total, and the consumer lag
/// per partition (high watermark minus position). Rendered as the live text line for a terminal,
/// or as one JSON object a line for <c>--format json</c> (shape in the listener's README).
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

    /// <summary>The live line; a partition whose position or watermark is not known yet shows <c>?</c>.</summary>
    public string Render(long total, IReadOnlyList<PartitionLag> lags)
    {
        var culture = CultureInfo.InvariantCulture;
        var line = new StringBuilder(128);
        line.Append(culture, $"{_lastSecond.PerSecond():N0} events/s, {_lastMinute.PerSecond():N0}/s in the last minute | total {total:N0} | lag");
        AppendLag(line, lags);
        return line.ToString();
    }

    /// <summary>The line printed at the end of a run: <c>lag at exit 0:0 1:12 (total 12)</c>.</summary>
    public static string RenderAtExit(IReadOnlyList<PartitionLag> lags)
    {
        var line = new StringBuilder("lag at exit", 64);
        AppendLag(line, lags);
        if (lags.Count > 0)
        {
            line.Append(CultureInfo.InvariantCulture, $" (total {(PartitionLag.Total(lags) is { } total ? total.ToString("N0", CultureInfo.InvariantCulture) : "?")})");
        }

        return line.ToString();
    }

    /// <summary>
    /// One JSON object, without a newline:
    /// <c>{"type":"status","final":false,"time":"…Z","elapsedSeconds":12.5,"total":1234,"eventsPerSecond":100,"eventsPerSecondLastMinute":90,"lag":12,"partitions":[{"partition":0,"position":600,"highWatermark":612,"lag":12}]}</c>.
    /// Unknown values are null; <c>lag</c> is the sum of the known partition lags.
    /// </summary>
    public string RenderJson(DateTimeOffset time, TimeSpan elapsed, long total, IReadOnlyList<PartitionLag> lags, bool final)
    {
        var buffer = new ArrayBufferWriter<byte>(256 + (lags.Count * 64));
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            json.WriteString("type", "status");
            json.WriteBoolean("final", final);
            json.WriteString("time", time.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture));
            json.WriteNumber("elapsedSeconds", Math.Round(elapsed.TotalSeconds, 3));
            json.WriteNumber("total", total);
            json.WriteNumber("eventsPerSecond", Math.Round(_lastSecond.PerSecond(), 1));
            json.WriteNumber("eventsPerSecondLastMinute", Math.Round(_lastMinute.PerSecond(), 1));
            WriteNullable(json, "lag", PartitionLag.Total(lags));
            json.WriteStartArray("partitions");
            foreach (var lag in lags)
            {
                json.WriteStartObject();
                json.WriteNumber("partition", lag.Partition);
                WriteNullable(json, "position", lag.Position);
                WriteNullable(json, "highWatermark", lag.HighWatermark);
                WriteNullable(json, "lag", lag.Lag);
                json.WriteEndObject();
            }

            json.WriteEndArray();
            json.WriteEndObject();
        }

        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    /// <summary>Appends <c> 0:0 1:12 2:?</c>, or <c> (no partitions assigned)</c>.</summary>
    private static void AppendLag(StringBuilder line, IReadOnlyList<PartitionLag> lags)
    {
        if (lags.Count == 0)
        {
            line.Append(" (no partitions assigned)");
            return;
        }

        foreach (var lag in lags)
        {
            line.Append(CultureInfo.InvariantCulture, $" {lag.Partition}:");
            if (lag.Lag is { } known)
            {
                line.Append(CultureInfo.InvariantCulture, $"{known:N0}");
            }
            else
            {
                line.Append('?');
            }
        }
    }

    private static void WriteNullable(Utf8JsonWriter json, string name, long? value)
    {
        if (value is { } known)
        {
            json.WriteNumber(name, known);
        }
        else
        {
            json.WriteNull(name);
        }
    }
}
