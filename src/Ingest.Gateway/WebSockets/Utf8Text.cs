using System.Buffers;
using System.Text;

namespace Ingest.Gateway.WebSockets;

/// <summary>UTF-8 checks the WebSocket layer leaves undone.</summary>
internal static class Utf8Text
{
    /// <summary>True when <paramref name="text"/> ends in the middle of a character (or with a byte that starts none).</summary>
    public static bool EndsInsideACharacter(ReadOnlySpan<byte> text) =>
        !text.IsEmpty && text[^1] >= 0x80 && Rune.DecodeLastFromUtf8(text, out _, out _) != OperationStatus.Done;

    /// <summary>
    /// True when <paramref name="text"/> followed by <paramref name="more"/> is not UTF-8 (a
    /// character cut off at the end included: the layer rejects that at a message's last frame).
    /// </summary>
    public static bool IsNotUtf8(ReadOnlySpan<byte> text, ReadOnlySpan<byte> more) =>
        !System.Text.Unicode.Utf8.IsValid(more.IsEmpty ? text : [.. text, .. more]);
}
