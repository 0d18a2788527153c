using System.Text.Json;

namespace Ingest.Listener.Events;

/// <summary>The fields of a telemetry event that the listener prints and verifies.</summary>
/// <param name="ClientId">The <c>clientId</c> string, when present.</param>
/// <param name="Msg">The <c>msg</c> string, when present.</param>
/// <param name="Timestamp">The <c>timestamp</c>, when present as a non-negative JSON integer.</param>
internal readonly record struct TelemetryEvent(string? ClientId, string? Msg, long? Timestamp)
{
    /// <summary>
    /// Reads the top-level properties of a JSON object; false when the value is not a JSON object.
    /// Names are compared after unescaping, as the gateway does (docs/protocol.md, "Client to server").
    /// </summary>
    public static bool TryParse(ReadOnlySpan<byte> json, out TelemetryEvent telemetryEvent)
    {
        telemetryEvent = default;
        var reader = new Utf8JsonReader(json);
        try
        {
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                return false;
            }

            string? clientId = null;
            string? msg = null;
            long? timestamp = null;
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                var isClientId = reader.ValueTextEquals("clientId"u8);
                var isMsg = !isClientId && reader.ValueTextEquals("msg"u8);
                var isTimestamp = !isClientId && !isMsg && reader.ValueTextEquals("timestamp"u8);
                reader.Read();
                if (isClientId && reader.TokenType == JsonTokenType.String)
                {
                    clientId = reader.GetString();
                }
                else if (isMsg && reader.TokenType == JsonTokenType.String)
                {
                    msg = reader.GetString();
                }
                else if (isTimestamp && reader.TokenType == JsonTokenType.Number)
                {
                    // TryGetInt64 refuses fractions and exponents, as the contract does.
                    timestamp = reader.TryGetInt64(out var value) && value >= 0 ? value : null;
                }
                else
                {
                    reader.Skip();
                }
            }

            if (reader.TokenType != JsonTokenType.EndObject)
            {
                return false;
            }

            telemetryEvent = new TelemetryEvent(clientId, msg, timestamp);
            return true;
        }
        catch (JsonException)
        {
            return false;
        }
    }
}
