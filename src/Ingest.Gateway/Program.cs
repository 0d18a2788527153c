using Ingest.Gateway;
using Ingest.Gateway.Hosting;
using Ingest.Kafka.Embedded;
using Ingest.Kafka.Native;
using Microsoft.Extensions.Options;

try
{
    if (args is ["--check-librdkafka"])
    {
        // Used by scripts/setup.sh: loads librdkafka exactly as the gateway does and starts the
        // embedded broker once, so that a binary that cannot serve is found at setup, not at run.
        var library = LibrdkafkaLibrary.Loaded;
        using (EmbeddedKafkaCluster.Start(brokerCount: 1))
        {
            Console.WriteLine($"librdkafka {library.Version} loaded from {library.Path}; embedded broker OK");
        }

        return 0;
    }

    await using var app = GatewayApp.Build(args);
    await app.RunAsync();
    return Environment.ExitCode;
}
catch (LibrdkafkaLoadException e)
{
    await Console.Error.WriteLineAsync(e.Message);
    return 3;
}
catch (OptionsValidationException e)
{
    // One clear line per problem, naming the configuration key.
    foreach (var failure in e.Failures)
    {
        await Console.Error.WriteLineAsync($"Invalid configuration: {ConfigurationErrors.Describe(failure)}");
    }

    return 2;
}
catch (InvalidOperationException e) when (e.Message.StartsWith("Failed to convert configuration value", StringComparison.Ordinal))
{
    await Console.Error.WriteLineAsync($"Invalid configuration: {e.Message}");
    return 2;
}
