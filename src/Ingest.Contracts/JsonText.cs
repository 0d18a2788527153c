using System.Text.Json;
using System.Text.Unicode;

namespace Ingest.Contracts;

/// <summary>JSON checks shared by the writers of <c>/stream</c> frames and the listener's output.</summary>
public static class JsonText
{
    /// <summary>
    /// True when <paramref name="value"/> is exactly one JSON value in valid UTF-8, with nothing but
    /// whitespace around it: then it can be embedded in other JSON as it is.
    /// </summary>
    public static bool IsSingleValue(ReadOnlySpan<byte> value)
    {
        if (!Utf8.IsValid(value))
        {
            return false;
        }

        var reader = new Utf8JsonReader(value);
        try
        {
            return reader.Read() && reader.TrySkip() && !reader.Read();
        }
        catch (JsonException)
        {
            return false;
        }
    }
}
