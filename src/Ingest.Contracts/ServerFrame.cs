using System.Text.Json;

namespace Ingest.Contracts;

/// <summary>The kinds of frame the gateway sends (docs/protocol.md, "Server to client").</summary>
public enum ServerFrameType
{
    /// <summary>Not a frame of the contract (or not JSON).</summary>
    Unknown,

    /// <summary><c>{"type":"ack","upTo":N}</c></summary>
    Ack,

    /// <summary><c>{"type":"error","seq":N,"code":"...","message":"..."}</c></summary>
    Error,

    /// <summary><c>{"type":"draining","reconnectAfterMs":N}</c></summary>
    Draining,
}

/// <summary>One frame the gateway sent, as a client reads it.</summary>
/// <param name="Type">The frame's <c>type</c>.</param>
/// <param name="UpTo">An ack's <c>upTo</c>.</param>
/// <param name="Seq">An error's <c>seq</c>.</param>
/// <param name="Code">An error's <c>code</c> (<see cref="ErrorCodes"/>).</param>
/// <param name="Message">An error's <c>message</c>.</param>
/// <param name="ReconnectAfterMs">A draining frame's <c>reconnectAfterMs</c>.</param>
public readonly record struct ServerFrame(ServerFrameType Type, long UpTo, long Seq, string? Code, string? Message, int ReconnectAfterMs)
{
    /// <summary>Parses an <c>ack</c>, <c>error</c> or <c>draining</c> frame; anything else is <see cref="ServerFrameType.Unknown"/>.</summary>
    public static ServerFrame Parse(ReadOnlySpan<byte> json)
    {
        var reader = new Utf8JsonReader(json);
        var type = ServerFrameType.Unknown;
        long upTo = 0, seq = 0;
        var reconnectAfter = 0;
        string? code = null, message = null;
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
                else if (reader.ValueTextEquals("message"u8))
                {
                    reader.Read();
                    message = reader.GetString();
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

        return new ServerFrame(type, upTo, seq, code, message, reconnectAfter);
    }
}
