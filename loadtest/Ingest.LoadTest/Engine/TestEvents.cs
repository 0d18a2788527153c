using System.Buffers.Text;
using System.Text;

namespace Ingest.LoadTest.Engine;

/// <summary>
/// Builds the events clients send: <c>{"msg":"&lt;run&gt; &lt;client&gt; &lt;n&gt;","clientId":"client-&lt;client&gt;","timestamp":&lt;ms&gt;}</c>,
/// about 75 bytes, as the wire contract's example. The run id in <c>msg</c> lets verification count
/// this run's records only; (client, n) identifies an event.
/// </summary>
internal static class TestEvents
{
    /// <summary>Packs (client, n) into one key.</summary>
    public static long Key(int client, int n) => ((long)client << 32) | (uint)n;

    public static (int Client, int N) Unpack(long key) => ((int)(key >> 32), (int)key);

    public static string ClientId(int client) => $"client-{client}";

    /// <summary>One event, or a JSON array of <paramref name="count"/> events numbered from <paramref name="firstN"/>.</summary>
    public static byte[] Message(string runId, int client, int firstN, int count, long timestampMs, bool asArray)
    {
        var builder = new StringBuilder(count * 80);
        if (asArray)
        {
            builder.Append('[');
        }

        for (var i = 0; i < count; i++)
        {
            if (i > 0)
            {
                builder.Append(',');
            }

            builder.Append("{\"msg\":\"").Append(runId).Append(' ').Append(client).Append(' ').Append(firstN + i)
                .Append("\",\"clientId\":\"client-").Append(client).Append("\",\"timestamp\":").Append(timestampMs).Append('}');
        }

        if (asArray)
        {
            builder.Append(']');
        }

        return Encoding.UTF8.GetBytes(builder.ToString());
    }

    /// <summary>
    /// Reads (client, n) and the timestamp back from a record value of run <paramref name="runIdUtf8"/>;
    /// false for records of other runs or other shapes.
    /// </summary>
    public static bool TryParse(ReadOnlySpan<byte> value, ReadOnlySpan<byte> runIdUtf8, out long key, out long timestampMs)
    {
        key = 0;
        timestampMs = 0;
        ReadOnlySpan<byte> prefix = "{\"msg\":\""u8;
        if (!value.StartsWith(prefix))
        {
            return false;
        }

        var rest = value[prefix.Length..];
        if (!rest.StartsWith(runIdUtf8) || rest.Length <= runIdUtf8.Length || rest[runIdUtf8.Length] != (byte)' ')
        {
            return false;
        }

        rest = rest[(runIdUtf8.Length + 1)..];
        if (!Utf8Parser.TryParse(rest, out int client, out var used) || rest[used] != (byte)' ')
        {
            return false;
        }

        rest = rest[(used + 1)..];
        if (!Utf8Parser.TryParse(rest, out int n, out _))
        {
            return false;
        }

        var ts = value.LastIndexOf("\"timestamp\":"u8);
        if (ts < 0 || !Utf8Parser.TryParse(value[(ts + 12)..], out timestampMs, out _))
        {
            return false;
        }

        key = Key(client, n);
        return true;
    }
}
