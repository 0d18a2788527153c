using System.Globalization;
using System.Text;

namespace Ingest.Listener.Output;

/// <summary>
/// logfmt quoting (https://brandur.org/logfmt): bare when safe, else double-quoted with escapes.
/// Control characters (C0, DEL, C1), line and paragraph separators and bidirectional overrides
/// are escaped, so a value cannot break the line or restyle the terminal.
/// </summary>
internal static class Logfmt
{
    /// <summary>The value as logfmt writes it: safe to print on a terminal.</summary>
    public static string Quote(string value)
    {
        var builder = new StringBuilder(value.Length + 2);
        Append(builder, value);
        return builder.ToString();
    }

    public static void Append(StringBuilder builder, string value)
    {
        if (value.Length > 0 && !NeedsQuotes(value))
        {
            builder.Append(value);
            return;
        }

        builder.Append('"');
        foreach (var c in value)
        {
            switch (c)
            {
                case '"':
                    builder.Append("\\\"");
                    break;
                case '\\':
                    builder.Append("\\\\");
                    break;
                case '\n':
                    builder.Append("\\n");
                    break;
                case '\r':
                    builder.Append("\\r");
                    break;
                case '\t':
                    builder.Append("\\t");
                    break;
                default:
                    if (MustEscape(c))
                    {
                        builder.Append(CultureInfo.InvariantCulture, $"\\u{(int)c:x4}");
                    }
                    else
                    {
                        builder.Append(c);
                    }

                    break;
            }
        }

        builder.Append('"');
    }

    private static bool NeedsQuotes(string value)
    {
        foreach (var c in value)
        {
            if (c is ' ' or '=' or '"' or '\\' || MustEscape(c))
            {
                return true;
            }
        }

        return false;
    }

    private static bool MustEscape(char c) =>
        char.IsControl(c) || c is '\u2028' or '\u2029' || c is >= '\u202A' and <= '\u202E' || c is >= '\u2066' and <= '\u2069';
}
