using System.Text.Json;

namespace Ingest.LoadTest.Engine;

/// <summary>What the gateway sent in one text frame (see the wire contract).</summary>
internal readonly record struct ServerFrame(ServerFrameType Type, long UpTo, long Seq, string? Code, int ReconnectAfterMs)
{
    /// <summary>Parses an <c>ack</c>, <c>error</c> or <c>draining</c> frame; anything else is <see cref="ServerFrameType.Unknown"/>.</summary>
    public static ServerFrame Parse(ReadOnlySpan<byte> json)
    {
        var reader = new Utf8JsonReader(json);
        ServerFrameType type = ServerFrameType.Unknown;
        long upTo = 0, seq = 0;
        int reconnectAfter = 0;
        string? code = null;
        try
        {
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                return default;
            }

            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                if (reader.ValueTextEquals("type"u8))
                {
                    reader.Read();
                    type = reader.ValueTextEquals("ack"u8) ? ServerFrameType.Ack
                        : reader.ValueTextEquals("error"u8) ? ServerFrameType.Error
                        : reader.ValueTextEquals("draining"u8) ? ServerFrameType.Draining
                        : ServerFrameType.Unknown;
                }
                else if (reader.ValueTextEquals("upTo"u8))
                {
                    reader.Read();
                    upTo = reader.GetInt64();
                }
                else if (reader.ValueTextEquals("seq"u8))
                {
                    reader.Read();
                    seq = reader.GetInt64();
                }
                else if (reader.ValueTextEquals("code"u8))
                {
                    reader.Read();
                    code = reader.GetString();
                }
                else if (reader.ValueTextEquals("reconnectAfterMs"u8))
                {
                    reader.Read();
                    reconnectAfter = reader.GetInt32();
                }
                else
                {
                    reader.Read();
                    reader.Skip();
                }
            }
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException or FormatException)
        {
            return default;
        }

        return new ServerFrame(type, upTo, seq, code, reconnectAfter);
    }
}

internal enum ServerFrameType
{
    Unknown,
    Ack,
    Error,
    Draining,
}
