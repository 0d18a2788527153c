namespace Ingest.Listener.Output;

/// <summary>The few SGR sequences the listener uses (ECMA-48); written only to a terminal.</summary>
internal static class Ansi
{
    public const string Reset = "\e[0m";
    public const string Bold = "\e[1m";
    public const string Dim = "\e[2m";
    public const string Red = "\e[31m";
    public const string Green = "\e[32m";
    public const string Yellow = "\e[33m";
    public const string Cyan = "\e[36m";

    /// <summary>Carriage return, then erase the whole line: where the status line is redrawn.</summary>
    public const string ClearLine = "\r\e[2K";
}
