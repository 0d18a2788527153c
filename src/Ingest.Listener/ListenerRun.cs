using System.Globalization;
using Confluent.Kafka;
using Ingest.Listener.Cli;
using Ingest.Listener.Consuming;
using Ingest.Listener.Output;
using Ingest.Listener.Verification;

namespace Ingest.Listener;

/// <summary>
/// One listener run, independent of the process console: tests and the benchmark call it with
/// their own writers and get the exit code.
/// </summary>
internal static class ListenerRun
{
    public static async Task<int> RunAsync(
        ListenerOptions options,
        ListenerConsole console,
        CancellationToken cancellationToken,
        ListenerHooks? hooks = null,
        TimeProvider? time = null)
    {
        var formatter = options.Quiet ? null : new EventFormatter(options.Format, options.ShowHeaders, options.DeadLetter, console.Colour);
        var verifier = options.Verify ? new EventVerifier() : null;
        // The status is for people watching events go by (a line redrawn on a terminal) and, in
        // json format, for programs (a JSON line a second on stderr): never in quiet mode.
        var status = !options.Quiet && (console.LiveStatus || options.Format == EventFormat.Json) ? new StatusLine() : null;
        var loop = new ConsumeLoop(options, console, formatter, verifier, status, hooks, time ?? TimeProvider.System);
        if (!options.Quiet)
        {
            var group = options.GroupId is null ? "a fresh group" : $"group {options.GroupId}";
            var start = options.FromBeginning ? "the beginning" : options.GroupId is null ? "the end" : "its committed offsets (else the end)";
            console.WriteDiagnostic($"listening to {options.Topic} at {options.BootstrapServers} in {group}, from {start}");
        }

        ConsumeOutcome outcome;
        try
        {
            outcome = await loop.RunAsync(cancellationToken);
        }
        catch (KafkaException e)
        {
            console.WriteDiagnostic($"error: {e.Message}");
            return ExitCodes.Failed;
        }

        console.Error.WriteLine(DescribeCount(options, outcome));
        if (verifier is not null)
        {
            VerificationReport.Write(console.Error, verifier);
        }

        if (outcome.FatalError is { } fatal)
        {
            console.Error.WriteLine($"error: Kafka reported a fatal error: {fatal.Reason} ({fatal.Code})");
        }

        console.Error.Flush();
        return outcome.FatalError is not null ? ExitCodes.Failed
            : verifier is { Passed: false } ? ExitCodes.VerificationFailed
            : options.Count is { } count && outcome.Count < count ? ExitCodes.CountNotReached
            : ExitCodes.Success;
    }

    /// <summary>The count line: "N events", or "N of M events" with the reason when M was not reached.</summary>
    internal static string DescribeCount(ListenerOptions options, ConsumeOutcome outcome)
    {
        var culture = CultureInfo.InvariantCulture;
        var seen = options.Count is { } count
            ? string.Create(culture, $"{outcome.Count} of {count} events")
            : string.Create(culture, $"{outcome.Count} events");
        var why = outcome.TimedOut ? string.Create(culture, $" (timed out after {options.Timeout!.Value.TotalSeconds:0.###} s)")
            : outcome.Interrupted ? " (interrupted)"
            : "";
        return seen + why;
    }
}
