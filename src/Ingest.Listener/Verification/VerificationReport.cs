using System.Globalization;
using Ingest.Listener.Output;

namespace Ingest.Listener.Verification;

/// <summary>Writes the summary of an <see cref="EventVerifier"/> as plain lines.</summary>
internal static class VerificationReport
{
    /// <summary>Per-clientId lines beyond this are summed into one; a load test can have thousands of clients.</summary>
    internal const int MaxClientLines = 50;

    public static void Write(TextWriter writer, EventVerifier verifier)
    {
        var culture = CultureInfo.InvariantCulture;
        writer.WriteLine(string.Create(culture, $"verify: {(verifier.Passed ? "PASSED" : "FAILED")}"));
        writer.WriteLine(string.Create(culture, $"  records:      {verifier.Total}"));
        writer.WriteLine(string.Create(culture, $"  distinct:     {verifier.Distinct}"));
        writer.WriteLine(string.Create(culture, $"  duplicates:   {verifier.Duplicates}"));
        writer.WriteLine(string.Create(culture, $"  out of order: {verifier.OutOfOrder}"));
        writer.WriteLine(string.Create(culture, $"  not events:   {verifier.Invalid}"));
        foreach (var example in verifier.Examples)
        {
            writer.WriteLine(string.Create(culture, $"  ! {example}"));
        }

        var counts = verifier.CountsByClientId();
        writer.WriteLine(string.Create(culture, $"  clientIds:    {counts.Count}"));
        foreach (var (clientId, count) in counts.Take(MaxClientLines))
        {
            writer.WriteLine(string.Create(culture, $"    {count,10}  {Logfmt.Quote(clientId)}"));
        }

        if (counts.Count > MaxClientLines)
        {
            writer.WriteLine(string.Create(culture, $"    {counts.Skip(MaxClientLines).Sum(c => c.Value),10}  ({counts.Count - MaxClientLines} more clientIds)"));
        }
    }
}
