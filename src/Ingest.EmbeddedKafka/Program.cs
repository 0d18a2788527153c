using System.CommandLine;
using Ingest.Kafka.Discovery;
using Ingest.Kafka.Embedded;

var brokers = new Option<int>("--brokers") { Description = "Number of brokers", DefaultValueFactory = _ => 3 };
var partitions = new Option<int>("--partitions") { Description = "Partitions per topic", DefaultValueFactory = _ => 8 };
var topics = new Option<string[]>("--topic")
{
    Description = "Topic to create (repeatable)",
    DefaultValueFactory = _ => ["events", "events.dlq"],
    AllowMultipleArgumentsPerToken = true,
};
var file = new Option<string>("--discovery-file")
{
    Description = $"Where to publish the bootstrap servers (empty: do not publish). Default: ${DevEnvironmentFile.PathVariable} or {DevEnvironmentFile.DefaultPath}",
    DefaultValueFactory = _ => DevEnvironmentFile.DefaultPath,
};

var root = new RootCommand("Embedded development Kafka (librdkafka mock cluster) on 127.0.0.1, in memory, until Ctrl-C.")
{
    brokers, partitions, topics, file,
};
root.SetAction(async (parse, cancellationToken) =>
{
    using var cluster = EmbeddedKafkaCluster.Start(parse.GetValue(brokers));
    var topicNames = parse.GetValue(topics)!;
    foreach (var topic in topicNames)
    {
        cluster.CreateTopic(topic, parse.GetValue(partitions), replicationFactor: 3);
    }

    var path = parse.GetValue(file);
    if (!string.IsNullOrEmpty(path))
    {
        DevEnvironmentFile.Write(
            new DevEnvironment(cluster.BootstrapServers, Environment.ProcessId, DateTimeOffset.UtcNow, topicNames[0], topicNames.ElementAtOrDefault(1), []),
            path);
    }

    // The bootstrap line is machine-read by tests: keep its shape.
    Console.WriteLine($"bootstrap.servers={cluster.BootstrapServers}");
    Console.Out.Flush();
    try
    {
        await Task.Delay(Timeout.Infinite, cancellationToken);
    }
    catch (OperationCanceledException)
    {
        // Ctrl-C or SIGTERM: fall through to dispose the cluster.
    }
    finally
    {
        if (!string.IsNullOrEmpty(path))
        {
            DevEnvironmentFile.DeleteIfOwned(path);
        }
    }

    return 0;
});
return await root.Parse(args).InvokeAsync();
