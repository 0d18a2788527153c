using Ingest.Gateway;
using Ingest.Gateway.Lifecycle;
using Ingest.Kafka.Embedded;
using Ingest.Kafka.Native;

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
catch (Exception e) when (StartupErrors.TryDescribe(e, out var lines, out var exitCode))
{
    // Configuration and native-library failures: plain lines naming the key or file, no stack trace.
    foreach (var line in lines)
    {
        await Console.Error.WriteLineAsync(line);
    }

    return exitCode;
}
