using System.Globalization;
using System.Text;
using Confluent.Kafka;
using Ingest.Contracts;
using Ingest.Kafka;
using Ingest.Kafka.Discovery;
using Ingest.Kafka.Embedded;
using Ingest.Listener;
using Ingest.Listener.Cli;
using Ingest.Listener.Output;

namespace Ingest.IntegrationTests.Listener;

/// <summary>One embedded broker for the listener tests; each test uses topics of its own.</summary>
public sealed class ListenerFixture : IDisposable
{
    public const string ReceivedAt = "1700000000123";
    public const string Connection = "conn-7";
    public const string Gateway = "gw-test";

    private int _topics;

    public ListenerFixture() => Cluster = EmbeddedKafkaCluster.Start(brokerCount: 1);

    public EmbeddedKafkaCluster Cluster { get; }

    public string BootstrapServers => Cluster.BootstrapServers;

    /// <summary>A topic no other test uses.</summary>
    public string NewTopic(int partitions, string prefix = "events")
    {
        var topic = $"{prefix}-{Interlocked.Increment(ref _topics)}";
        Cluster.CreateTopic(topic, partitions);
        return topic;
    }

    /// <summary>A record shaped like the gateway's (docs/protocol.md, "What lands in Kafka").</summary>
    public static Message<string?, string> Event(string clientId, int number, long timestamp) => new()
    {
        Key = clientId,
        Value = string.Create(CultureInfo.InvariantCulture, $"{{\"msg\":\"msg number {number}\",\"clientId\":\"{clientId}\",\"timestamp\":{timestamp}}}"),
        Headers = GatewayHeaders(),
    };

    /// <summary>A dead-letter record shaped like the gateway's.</summary>
    public static Message<string?, string> DeadLetter(string raw, string error, string detail)
    {
        var headers = GatewayHeaders();
        headers.Add(IngestHeaders.Error, Encoding.UTF8.GetBytes(error));
        headers.Add(IngestHeaders.ErrorDetail, Encoding.UTF8.GetBytes(detail));
        return new Message<string?, string> { Key = null, Value = raw, Headers = headers };
    }

    /// <summary>Events 0..count-1, over <paramref name="clients"/> clientIds, timestamps increasing.</summary>
    public static IEnumerable<Message<string?, string>> Events(int count, int clients = 10, int first = 0) =>
        Enumerable.Range(first, count).Select(i => Event($"client {i % clients}", i, 1456862575765 + i));

    public void Produce(string topic, IEnumerable<Message<string?, string>> messages)
    {
        using var producer = new ProducerBuilder<string?, string>(KafkaClientDefaults.IdempotentProducer(BootstrapServers)).Build();
        foreach (var message in messages)
        {
            producer.Produce(topic, message);
        }

        Assert.Equal(0, producer.Flush(TimeSpan.FromSeconds(30)));
    }

    /// <summary>Each partition's high watermark, asked from the broker.</summary>
    public IReadOnlyDictionary<int, long> HighWatermarks(string topic, int partitions)
    {
        using var consumer = new ConsumerBuilder<Ignore, Ignore>(new ConsumerConfig { BootstrapServers = BootstrapServers, GroupId = $"watermarks-{Guid.NewGuid():N}" }).Build();
        return Enumerable.Range(0, partitions).ToDictionary(p => p, p => consumer.QueryWatermarkOffsets(new TopicPartition(topic, p), TimeSpan.FromSeconds(10)).High.Value);
    }

    /// <summary>Runs the listener in-process with the given command line, as the process would.</summary>
    internal static async Task<ListenerResult> RunAsync(
        string[] args,
        CancellationToken cancellationToken,
        ListenerHooks? hooks = null,
        Func<DevEnvironment?>? discover = null)
    {
        var output = new StringWriter(CultureInfo.InvariantCulture);
        var error = new StringWriter(CultureInfo.InvariantCulture);
        var console = new ListenerConsole(output, error);
        var exitCode = await ListenerCommand.InvokeAsync(args, console, discover ?? (() => null), handleTermination: false, cancellationToken, hooks);
        return new ListenerResult(exitCode, output.ToString(), error.ToString());
    }

    public void Dispose() => Cluster.Dispose();

    private static Headers GatewayHeaders() => new()
    {
        { IngestHeaders.ReceivedAt, Encoding.ASCII.GetBytes(ReceivedAt) },
        { IngestHeaders.Connection, Encoding.UTF8.GetBytes(Connection) },
        { IngestHeaders.Gateway, Encoding.UTF8.GetBytes(Gateway) },
    };
}

/// <summary>What an in-process listener run printed and returned.</summary>
internal sealed record ListenerResult(int ExitCode, string Output, string Error)
{
    public string[] Lines => Output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
}
