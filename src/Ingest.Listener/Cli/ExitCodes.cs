namespace Ingest.Listener.Cli;

/// <summary>Process exit codes of the listener; the README lists them for scripts.</summary>
internal static class ExitCodes
{
    /// <summary>Ran to the end: the count was reached, or stopped by Ctrl-C or the timeout without <c>--count</c>.</summary>
    public const int Success = 0;

    /// <summary><c>--count N</c> was given and fewer than N events were seen (timeout or Ctrl-C).</summary>
    public const int CountNotReached = 1;

    /// <summary><c>--verify</c> saw duplicates, out-of-order timestamps or values that are not events.</summary>
    public const int VerificationFailed = 2;

    /// <summary>Could not run: no broker given or discovered, or Kafka reported a fatal error.</summary>
    public const int Failed = 3;

    /// <summary>The command line is invalid (EX_USAGE of sysexits.h).</summary>
    public const int Usage = 64;
}
