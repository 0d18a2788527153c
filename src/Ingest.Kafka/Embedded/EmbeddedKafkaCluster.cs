using System.Runtime.InteropServices;
using Confluent.Kafka;
using Ingest.Kafka.Native;

namespace Ingest.Kafka.Embedded;

/// <summary>
/// An in-process Kafka cluster for development and tests: librdkafka's mock cluster, a real
/// Kafka-protocol broker set listening on loopback TCP ports, keeping data in this process's memory.
/// </summary>
/// <remarks>
/// Differences from Apache Kafka that matter to users of this type (measured; docs/operations.md, "Embedded development Kafka"):
/// each partition silently keeps at most 5 MiB and 100,000 producer batches (compress, and use
/// enough partitions); idempotent producer retries are de-duplicated only for transactional
/// producers; the Admin API's CreateTopics gets no answer (use <see cref="CreateTopic"/>) and
/// ListConsumerGroups crashes the process.
/// </remarks>
public sealed class EmbeddedKafkaCluster : IDisposable
{
    private readonly Lock _lock = new();
    private nint _handle;
    private nint _cluster;

    private EmbeddedKafkaCluster(nint handle, nint cluster, int brokerCount)
    {
        _handle = handle;
        _cluster = cluster;
        BrokerCount = brokerCount;
        BootstrapServers = Marshal.PtrToStringUTF8(MockClusterNative.ClusterBootstraps(cluster))
            ?? throw new InvalidOperationException("The mock cluster reported no bootstrap servers.");
    }

    /// <summary>Comma-separated <c>host:port</c> list of every broker, for <c>bootstrap.servers</c>.</summary>
    public string BootstrapServers { get; }

    /// <summary>
    /// The version string of the librdkafka the mock cluster API is bound to, asked through that
    /// binding (<c>rd_kafka_version_str()</c>), for comparison with Confluent.Kafka's.
    /// </summary>
    public static string BoundLibraryVersion => Marshal.PtrToStringUTF8(MockClusterNative.VersionString()) ?? "";

    /// <summary>Number of brokers; their ids are 1 to <see cref="BrokerCount"/>.</summary>
    public int BrokerCount { get; }

    /// <summary>
    /// Starts a cluster of <paramref name="brokerCount"/> brokers on 127.0.0.1, each on a random
    /// port. Consumer groups start without the broker's usual 3 s initial rebalance delay.
    /// </summary>
    /// <exception cref="LibrdkafkaLoadException">librdkafka cannot be loaded; the message says why in one line.</exception>
    public static unsafe EmbeddedKafkaCluster Start(int brokerCount = 1)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(brokerCount, 1);
        _ = LibrdkafkaLibrary.Loaded; // fails here, with the reason, rather than inside the first P/Invoke
        const int ErrorBufferSize = 512;
        var errstr = stackalloc byte[ErrorBufferSize];
        var conf = LibrdkafkaImports.ConfNew();
        // The hosting handle only carries the mock's logging; errors only, to stderr.
        _ = LibrdkafkaImports.ConfSet(conf, "log_level", "3", errstr, ErrorBufferSize);
        var handle = LibrdkafkaImports.KafkaNew(LibrdkafkaImports.ProducerType, conf, errstr, ErrorBufferSize);
        if (handle == 0)
        {
            LibrdkafkaImports.ConfDestroy(conf);
            throw new InvalidOperationException($"rd_kafka_new failed: {LibrdkafkaImports.Utf8(errstr)}");
        }

        var cluster = MockClusterNative.ClusterNew(handle, brokerCount);
        if (cluster == 0)
        {
            LibrdkafkaImports.KafkaDestroy(handle);
            throw new InvalidOperationException("rd_kafka_mock_cluster_new failed.");
        }

        MockClusterNative.GroupInitialRebalanceDelayMs(cluster, 0);
        return new EmbeddedKafkaCluster(handle, cluster, brokerCount);
    }

    /// <summary>Creates a topic; replication is capped at the broker count.</summary>
    public void CreateTopic(string topic, int partitions, int replicationFactor = 1)
    {
        ArgumentException.ThrowIfNullOrEmpty(topic);
        ArgumentOutOfRangeException.ThrowIfLessThan(partitions, 1);
        var replication = Math.Clamp(replicationFactor, 1, BrokerCount);
        Check(MockClusterNative.TopicCreate(Cluster, topic, partitions, replication), $"creating topic {topic}");
    }

    /// <summary>Takes a broker down: its connections are closed and new ones refused; the port stays.</summary>
    public void SetBrokerDown(int brokerId) =>
        Check(MockClusterNative.BrokerSetDown(Cluster, brokerId), $"setting broker {brokerId} down");

    /// <summary>Brings a broker taken down by <see cref="SetBrokerDown"/> back up on the same port.</summary>
    public void SetBrokerUp(int brokerId) =>
        Check(MockClusterNative.BrokerSetUp(Cluster, brokerId), $"setting broker {brokerId} up");

    /// <summary>Delays every response of a broker by <paramref name="roundTripTime"/> (zero removes it).</summary>
    public void SetRoundTripTime(int brokerId, TimeSpan roundTripTime) =>
        Check(MockClusterNative.BrokerSetRtt(Cluster, brokerId, (int)roundTripTime.TotalMilliseconds), $"setting broker {brokerId} rtt");

    /// <summary>
    /// Makes the next requests of one API (any broker) fail with the given errors, one error per
    /// request, in order. <paramref name="apiKey"/> is the Kafka protocol API key (0 = Produce, 1 = Fetch).
    /// </summary>
    public void PushRequestErrors(short apiKey, params ErrorCode[] errors)
    {
        var codes = Array.ConvertAll(errors, e => (int)e);
        MockClusterNative.PushRequestErrorsArray(Cluster, apiKey, (nuint)codes.Length, codes);
    }

    /// <summary>Drops the errors still queued by <see cref="PushRequestErrors"/> for an API.</summary>
    public void ClearRequestErrors(short apiKey) => MockClusterNative.ClearRequestErrors(Cluster, apiKey);

    /// <summary>Makes every request for a topic fail with <paramref name="error"/> (NoError clears it).</summary>
    public void SetTopicError(string topic, ErrorCode error) => MockClusterNative.TopicSetError(Cluster, topic, (int)error);

    /// <summary>Moves the leadership of one partition to another broker.</summary>
    public void SetPartitionLeader(string topic, int partition, int brokerId) =>
        Check(MockClusterNative.PartitionSetLeader(Cluster, topic, partition, brokerId), $"moving {topic}[{partition}] to broker {brokerId}");

    /// <summary>Stops every broker and frees the cluster and its data.</summary>
    public void Dispose()
    {
        lock (_lock)
        {
            if (_cluster != 0)
            {
                MockClusterNative.ClusterDestroy(_cluster);
                _cluster = 0;
            }

            if (_handle != 0)
            {
                LibrdkafkaImports.KafkaDestroy(_handle);
                _handle = 0;
            }
        }
    }

    private nint Cluster
    {
        get
        {
            var cluster = _cluster;
            ObjectDisposedException.ThrowIf(cluster == 0, this);
            return cluster;
        }
    }

    private static void Check(int error, string what)
    {
        if (error != 0)
        {
            throw new KafkaException(new Error((ErrorCode)error, $"Embedded Kafka: {what} failed: {(ErrorCode)error}"));
        }
    }
}
