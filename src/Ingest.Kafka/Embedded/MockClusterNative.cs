using System.Runtime.InteropServices;
using Ingest.Kafka.Native;

namespace Ingest.Kafka.Embedded;

/// <summary>
/// P/Invoke declarations for the parts of librdkafka's mock cluster API (<c>rdkafka_mock.h</c>)
/// that <see cref="EmbeddedKafkaCluster"/> uses. The library name resolves to the very file that
/// Confluent.Kafka loaded (<see cref="LibrdkafkaLibrary"/>, registered by <see cref="LibrdkafkaImports"/>), never through the runtime's own
/// probing, which would try the package's default <c>librdkafka.so</c> and, where that loads, map a
/// second copy next to Confluent.Kafka's fallback.
/// </summary>
internal static partial class MockClusterNative
{
    private const string Library = LibrdkafkaImports.Library; // the one name the assembly's resolver maps

    // An explicit static constructor runs before the first call of any method below.
    static MockClusterNative() => LibrdkafkaImports.EnsureResolver();

    [LibraryImport(Library, EntryPoint = "rd_kafka_version_str")]
    public static partial nint VersionString();

    [LibraryImport(Library, EntryPoint = "rd_kafka_mock_cluster_new")]
    public static partial nint ClusterNew(nint rk, int brokerCount);

    [LibraryImport(Library, EntryPoint = "rd_kafka_mock_cluster_destroy")]
    public static partial void ClusterDestroy(nint cluster);

    [LibraryImport(Library, EntryPoint = "rd_kafka_mock_cluster_bootstraps")]
    public static partial nint ClusterBootstraps(nint cluster);

    [LibraryImport(Library, EntryPoint = "rd_kafka_mock_topic_create", StringMarshalling = StringMarshalling.Utf8)]
    public static partial int TopicCreate(nint cluster, string topic, int partitionCount, int replicationFactor);

    [LibraryImport(Library, EntryPoint = "rd_kafka_mock_topic_set_error", StringMarshalling = StringMarshalling.Utf8)]
    public static partial void TopicSetError(nint cluster, string topic, int error);

    [LibraryImport(Library, EntryPoint = "rd_kafka_mock_group_initial_rebalance_delay_ms")]
    public static partial void GroupInitialRebalanceDelayMs(nint cluster, int delayMs);

    [LibraryImport(Library, EntryPoint = "rd_kafka_mock_broker_set_down")]
    public static partial int BrokerSetDown(nint cluster, int brokerId);

    [LibraryImport(Library, EntryPoint = "rd_kafka_mock_broker_set_up")]
    public static partial int BrokerSetUp(nint cluster, int brokerId);

    [LibraryImport(Library, EntryPoint = "rd_kafka_mock_broker_set_rtt")]
    public static partial int BrokerSetRtt(nint cluster, int brokerId, int rttMs);

    [LibraryImport(Library, EntryPoint = "rd_kafka_mock_push_request_errors_array")]
    public static partial void PushRequestErrorsArray(nint cluster, short apiKey, nuint count, int[] errors);

    [LibraryImport(Library, EntryPoint = "rd_kafka_mock_clear_request_errors")]
    public static partial void ClearRequestErrors(nint cluster, short apiKey);

    [LibraryImport(Library, EntryPoint = "rd_kafka_mock_partition_set_leader", StringMarshalling = StringMarshalling.Utf8)]
    public static partial int PartitionSetLeader(nint cluster, string topic, int partition, int brokerId);
}
