namespace Ingest.Gateway.Diagnostics;

/// <summary>
/// The <c>status</c> value of a failed readiness check, as <c>/readyz</c> reports it
/// (docs/protocol.md, "Endpoints"), carried in the check result's data.
/// </summary>
internal static class ReadinessStatus
{
    public const string Key = "status";

    public static IReadOnlyDictionary<string, object> Of(string status) => new Dictionary<string, object> { [Key] = status };
}
