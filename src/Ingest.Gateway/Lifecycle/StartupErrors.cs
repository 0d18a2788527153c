using Ingest.Gateway.Configuration;
using Ingest.Kafka.Native;
using Microsoft.Extensions.Options;

namespace Ingest.Gateway.Lifecycle;

/// <summary>
/// Start-up failures the gateway explains in plain lines instead of a stack trace, recognised by
/// their type: configuration (exit code 2, naming the key), a librdkafka that cannot load (3), and
/// Kafka refusing what start-up needs, such as the transactional mode's transactional id (4).
/// </summary>
internal static class StartupErrors
{
    public const int ConfigurationExitCode = 2;
    public const int NativeLibraryExitCode = 3;
    public const int KafkaExitCode = 4;

    /// <summary>The lines to print and the exit code, when <paramref name="exception"/> (or what it wraps) is one of them.</summary>
    public static bool TryDescribe(Exception exception, out IReadOnlyList<string> lines, out int exitCode)
    {
        var found = new List<string>();
        exitCode = 0;
        foreach (var e in Flatten(exception))
        {
            switch (e)
            {
                case OptionsValidationException validation:
                    found.AddRange(validation.Failures.Select(f => $"Invalid configuration: {ConfigurationErrors.Describe(f)}"));
                    exitCode = ConfigurationExitCode;
                    break;
                case ConfigurationException configuration:
                    found.Add($"Invalid configuration: {configuration.Message}");
                    exitCode = ConfigurationExitCode;
                    break;
                case LibrdkafkaLoadException native:
                    found.Add(native.Message);
                    exitCode = exitCode == 0 ? NativeLibraryExitCode : exitCode;
                    break;
                case Kafka.KafkaStartupException kafka:
                    found.Add(kafka.Message);
                    exitCode = exitCode == 0 ? KafkaExitCode : exitCode;
                    break;
            }
        }

        lines = found;
        return found.Count > 0;
    }

    private static IEnumerable<Exception> Flatten(Exception exception)
    {
        var pending = new Stack<Exception>([exception]);
        while (pending.TryPop(out var e))
        {
            yield return e;
            if (e is AggregateException aggregate)
            {
                foreach (var inner in aggregate.InnerExceptions)
                {
                    pending.Push(inner);
                }
            }
            else if (e.InnerException is { } inner && e is not OptionsValidationException and not ConfigurationException and not LibrdkafkaLoadException and not Kafka.KafkaStartupException)
            {
                pending.Push(inner);
            }
        }
    }
}
