using System.Globalization;
using System.Text;

namespace Ingest.UnitTests.Validation;

/// <summary>JSON string literals for generated messages: each character raw or escaped at random.</summary>
internal static class JsonLiteral
{
    /// <summary>
    /// <paramref name="value"/> as a JSON string literal. Characters JSON requires escaped always are;
    /// any other is escaped once in <paramref name="escapeOneIn"/> (0: never), by its short escape or
    /// by <c>\u</c> (upper or lower case hex, surrogate pairs beyond the BMP). <paramref name="next"/>
    /// returns a random number in [0, n).
    /// </summary>
    public static string Of(string value, Func<int, int> next, int escapeOneIn)
    {
        var builder = new StringBuilder(value.Length + 2).Append('"');
        foreach (var rune in value.EnumerateRunes())
        {
            var mustEscape = rune.Value < 0x20 || rune.Value == '"' || rune.Value == '\\';
            if (!mustEscape && (escapeOneIn == 0 || next(escapeOneIn) != 0))
            {
                builder.Append(rune.ToString());
                continue;
            }

            var shortEscape = rune.Value switch
            {
                '"' => "\\\"",
                '\\' => "\\\\",
                '/' => "\\/",
                '\b' => "\\b",
                '\f' => "\\f",
                '\n' => "\\n",
                '\r' => "\\r",
                '\t' => "\\t",
                _ => null,
            };
            if (shortEscape is not null && next(2) == 0)
            {
                builder.Append(shortEscape);
                continue;
            }

            var upper = next(2) == 0;
            foreach (var unit in rune.ToString())
            {
                builder.Append("\\u").Append(((int)unit).ToString(upper ? "X4" : "x4", CultureInfo.InvariantCulture));
            }
        }

        return builder.Append('"').ToString();
    }
}
