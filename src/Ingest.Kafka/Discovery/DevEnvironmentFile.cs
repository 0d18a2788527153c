using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Ingest.Kafka.Discovery;

/// <summary>What a gateway (or the standalone embedded broker) running on this machine publishes.</summary>
/// <param name="BootstrapServers">Bootstrap servers of the embedded development broker.</param>
/// <param name="ProcessId">Process that hosts the broker; the file is stale once it has exited.</param>
/// <param name="StartedAt">When the broker started.</param>
/// <param name="Topic">The events topic.</param>
/// <param name="DeadLetterTopic">The dead-letter topic, or null when it is off.</param>
/// <param name="GatewayUrls">The gateway's listen URLs (http), when a gateway hosts the broker.</param>
public sealed record DevEnvironment(
    string BootstrapServers,
    int ProcessId,
    DateTimeOffset StartedAt,
    string Topic,
    string? DeadLetterTopic,
    IReadOnlyList<string> GatewayUrls);

/// <summary>
/// The file through which the listener and the load harness find an embedded broker (and its
/// gateway) on the same machine with no flags. Its path is <c>$INGEST_DEV_FILE</c> when set, else
/// <c>ingest/dev-environment.json</c> under the temporary folder (<c>/tmp</c>).
/// </summary>
public static class DevEnvironmentFile
{
    /// <summary>Environment variable that overrides <see cref="DefaultPath"/>.</summary>
    public const string PathVariable = "INGEST_DEV_FILE";

    private static readonly JsonSerializerOptions JsonOptions = new(JsonSerializerDefaults.Web)
    {
        WriteIndented = true,
        DefaultIgnoreCondition = JsonIgnoreCondition.Never,
    };

    /// <summary>The path in force for this process.</summary>
    public static string DefaultPath =>
        Environment.GetEnvironmentVariable(PathVariable) is { Length: > 0 } path
            ? path
            : Path.Combine(Path.GetTempPath(), "ingest", "dev-environment.json");

    /// <summary>Writes the file atomically (write to a temporary name, then rename).</summary>
    public static void Write(DevEnvironment environment, string? path = null)
    {
        path ??= DefaultPath;
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        var temporary = $"{path}.{Environment.ProcessId}.tmp";
        File.WriteAllText(temporary, JsonSerializer.Serialize(environment, JsonOptions));
        File.Move(temporary, path, overwrite: true);
    }

    /// <summary>Reads the file; null when it is missing, unreadable, or its process has exited.</summary>
    public static DevEnvironment? TryRead(string? path = null)
    {
        path ??= DefaultPath;
        try
        {
            var environment = JsonSerializer.Deserialize<DevEnvironment>(File.ReadAllText(path), JsonOptions);
            return environment is not null && IsAlive(environment.ProcessId) ? environment : null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or JsonException)
        {
            return null;
        }
    }

    /// <summary>Deletes the file if it still belongs to this process.</summary>
    public static void DeleteIfOwned(string? path = null)
    {
        path ??= DefaultPath;
        try
        {
            var environment = JsonSerializer.Deserialize<DevEnvironment>(File.ReadAllText(path), JsonOptions);
            if (environment?.ProcessId == Environment.ProcessId)
            {
                File.Delete(path);
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or JsonException)
        {
            // Missing or replaced by another process: nothing of ours to delete.
        }
    }

    private static bool IsAlive(int processId)
    {
        try
        {
            using var process = Process.GetProcessById(processId);
            return !process.HasExited;
        }
        catch (ArgumentException)
        {
            return false;
        }
    }
}
