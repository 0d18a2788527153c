using System.Text;

namespace Ingest.Listener.Output;

/// <summary>
/// Where a listener run writes: events to <see cref="Out"/> (buffered, flushed by the consume loop
/// on a timer and when idle, never per line), everything else to <see cref="Error"/>, and the live
/// status line redrawn in place on the terminal. Used from one thread at a time.
/// </summary>
internal sealed class ListenerConsole
{
    /// <summary>Large enough that a burst of lines costs one write system call, not hundreds.</summary>
    private const int OutputBufferBytes = 64 * 1024;

    private string? _status;

    /// <param name="output">Events; the consume loop flushes it.</param>
    /// <param name="error">Diagnostics, the count, the summary and the status line.</param>
    /// <param name="colour">Colour event lines.</param>
    /// <param name="liveStatus">Both streams are one terminal: show a status line on <paramref name="error"/>.</param>
    /// <param name="width">Terminal width, to keep the status line on one row.</param>
    public ListenerConsole(TextWriter output, TextWriter error, bool colour = false, bool liveStatus = false, Func<int>? width = null)
    {
        Out = output;
        Error = error;
        Colour = colour;
        LiveStatus = liveStatus;
        Width = width ?? (() => 120);
    }

    public TextWriter Out { get; }

    public TextWriter Error { get; }

    public bool Colour { get; }

    public bool LiveStatus { get; }

    public Func<int> Width { get; }

    /// <summary>
    /// The process's console: stdout behind a 64 KiB buffer, colour and the status line only on
    /// a terminal (https://no-color.org: <c>NO_COLOR</c> turns colour off).
    /// </summary>
    public static ListenerConsole ForProcess()
    {
        var output = new StreamWriter(Console.OpenStandardOutput(), new UTF8Encoding(false), OutputBufferBytes) { AutoFlush = false };
        var terminal = !Console.IsOutputRedirected;
        var colour = terminal && string.IsNullOrEmpty(Environment.GetEnvironmentVariable("NO_COLOR"));
        return new ListenerConsole(output, Console.Error, colour, terminal && !Console.IsErrorRedirected, TerminalWidth);
    }

    /// <summary>Writes buffered events out, keeping the status line below them.</summary>
    public void FlushEvents()
    {
        if (_status is null)
        {
            Out.Flush();
            return;
        }

        Error.Write(Ansi.ClearLine);
        Error.Flush();
        Out.Flush();
        Error.Write(_status);
        Error.Flush();
    }

    /// <summary>Replaces the status line (a no-op unless <see cref="LiveStatus"/>).</summary>
    public void ShowStatus(string status)
    {
        if (!LiveStatus)
        {
            return;
        }

        var width = Math.Max(Width() - 1, 10);
        _status = status.Length > width ? status[..width] : status;
        Error.Write(Ansi.ClearLine);
        Error.Write(_status);
        Error.Flush();
    }

    /// <summary>Removes the status line for good (end of run).</summary>
    public void ClearStatus()
    {
        if (_status is not null)
        {
            Error.Write(Ansi.ClearLine);
            Error.Flush();
            _status = null;
        }
    }

    /// <summary>Writes a diagnostic line, after the events printed so far and above the status line.</summary>
    public void WriteDiagnostic(string line)
    {
        var status = _status;
        ClearStatus();
        Out.Flush();
        Error.WriteLine(line);
        Error.Flush();
        if (status is not null)
        {
            ShowStatus(status);
        }
    }

    private static int TerminalWidth()
    {
        try
        {
            return Console.WindowWidth > 0 ? Console.WindowWidth : 120;
        }
        catch (IOException)
        {
            return 120;
        }
    }
}
