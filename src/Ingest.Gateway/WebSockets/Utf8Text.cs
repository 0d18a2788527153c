using System.Buffers;
using System.Text;

namespace Ingest.Gateway.WebSockets;

/// <summary>UTF-8 checks for text that may end in the middle of a character (a fragment).</summary>
internal static class Utf8Text
{
    /// <summary>
    /// True when <paramref name="text"/> holds a byte sequence that is not UTF-8 (RFC 3629); an
    /// incomplete character at its very end is not one, as the rest may follow in the next frame.
    /// </summary>
    public static bool HasInvalidSequence(ReadOnlySpan<byte> text)
    {
        if (System.Text.Unicode.Utf8.IsValid(text))
        {
            return false;
        }

        while (!text.IsEmpty)
        {
            var status = Rune.DecodeFromUtf8(text, out _, out var consumed);
            if (status == OperationStatus.InvalidData)
            {
                return true;
            }

            if (status == OperationStatus.NeedMoreData)
            {
                return false;
            }

            text = text[consumed..];
        }

        return false;
    }
}
