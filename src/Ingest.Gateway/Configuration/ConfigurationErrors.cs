using System.Text.RegularExpressions;

namespace Ingest.Gateway.Configuration;

/// <summary>Turns options validation failures into lines that name the configuration key.</summary>
internal static partial class ConfigurationErrors
{
    /// <summary>
    /// "LingerMs: The field IngestOptions.Kafka.LingerMs must be between 0 and 900000." becomes
    /// "Ingest:Kafka:LingerMs: The field must be between 0 and 900000."
    /// </summary>
    public static string Describe(string failure)
    {
        var match = MemberPath().Match(failure);
        if (!match.Success)
        {
            return failure;
        }

        var key = $"{IngestOptions.SectionName}:{match.Groups["path"].Value.Replace('.', ':')}";
        var problem = failure[(failure.IndexOf(": ", StringComparison.Ordinal) + 2)..]
            .Replace($" {match.Value} ", " ", StringComparison.Ordinal)
            .Replace($"The {match.Value} field", "The value", StringComparison.Ordinal);
        return $"{key}: {problem}";
    }

    [GeneratedRegex(@"IngestOptions\.(?<path>[A-Za-z0-9_.\[\]]+)")]
    private static partial Regex MemberPath();
}
