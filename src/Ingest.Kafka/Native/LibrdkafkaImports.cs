using System.Reflection;
using System.Runtime.InteropServices;

namespace Ingest.Kafka.Native;

/// <summary>
/// P/Invoke declarations of librdkafka's producer API (<c>rdkafka.h</c>) for
/// <see cref="NativeProducer"/>. The library name resolves to the very file that Confluent.Kafka
/// loaded (<see cref="LibrdkafkaLibrary"/>), so that the process maps one copy of librdkafka.
/// </summary>
internal static unsafe partial class LibrdkafkaImports
{
    public const string Library = "librdkafka";

    public const int ProducerType = 0; // RD_KAFKA_PRODUCER
    public const int ConfOk = 0; // RD_KAFKA_CONF_OK
    public const int MsgFlagCopy = 0x2; // RD_KAFKA_MSG_F_COPY
    public const int ErrFatal = -150; // RD_KAFKA_RESP_ERR__FATAL

    private static readonly object Registration = Register();

    // An explicit static constructor runs before the first call of any method below.
    static LibrdkafkaImports() => EnsureResolver();

    /// <summary>Registers the assembly's one resolver for <see cref="Library"/>; every P/Invoke class of the assembly calls it first.</summary>
    public static void EnsureResolver() => GC.KeepAlive(Registration);

    private static object Register()
    {
        NativeLibrary.SetDllImportResolver(typeof(LibrdkafkaImports).Assembly, Resolve);
        return new object();
    }

    private static nint Resolve(string libraryName, Assembly assembly, DllImportSearchPath? searchPath) =>
        libraryName == Library ? LibrdkafkaLibrary.Loaded.Handle : 0;

    [LibraryImport(Library, EntryPoint = "rd_kafka_conf_new")]
    public static partial nint ConfNew();

    [LibraryImport(Library, EntryPoint = "rd_kafka_conf_set", StringMarshalling = StringMarshalling.Utf8)]
    public static partial int ConfSet(nint conf, string name, string value, byte* errstr, nuint errstrSize);

    [LibraryImport(Library, EntryPoint = "rd_kafka_conf_destroy")]
    public static partial void ConfDestroy(nint conf);

    [LibraryImport(Library, EntryPoint = "rd_kafka_conf_set_opaque")]
    public static partial void ConfSetOpaque(nint conf, nint opaque);

    [LibraryImport(Library, EntryPoint = "rd_kafka_conf_set_dr_msg_cb")]
    public static partial void ConfSetDeliveryReportCallback(nint conf, delegate* unmanaged<nint, Message*, nint, void> callback);

    [LibraryImport(Library, EntryPoint = "rd_kafka_conf_set_error_cb")]
    public static partial void ConfSetErrorCallback(nint conf, delegate* unmanaged<nint, int, byte*, nint, void> callback);

    [LibraryImport(Library, EntryPoint = "rd_kafka_conf_set_log_cb")]
    public static partial void ConfSetLogCallback(nint conf, delegate* unmanaged<nint, int, byte*, byte*, void> callback);

    [LibraryImport(Library, EntryPoint = "rd_kafka_conf_set_stats_cb")]
    public static partial void ConfSetStatisticsCallback(nint conf, delegate* unmanaged<nint, byte*, nuint, nint, int> callback);

    [LibraryImport(Library, EntryPoint = "rd_kafka_new")]
    public static partial nint KafkaNew(int type, nint conf, byte* errstr, nuint errstrSize);

    [LibraryImport(Library, EntryPoint = "rd_kafka_destroy")]
    public static partial void KafkaDestroy(nint rk);

    [LibraryImport(Library, EntryPoint = "rd_kafka_name")]
    public static partial byte* Name(nint rk);

    [LibraryImport(Library, EntryPoint = "rd_kafka_opaque")]
    public static partial nint Opaque(nint rk);

    [LibraryImport(Library, EntryPoint = "rd_kafka_topic_new", StringMarshalling = StringMarshalling.Utf8)]
    public static partial nint TopicNew(nint rk, string topic, nint conf);

    [LibraryImport(Library, EntryPoint = "rd_kafka_topic_destroy")]
    public static partial void TopicDestroy(nint rkt);

    [LibraryImport(Library, EntryPoint = "rd_kafka_produceva")]
    public static partial nint Produceva(nint rk, Vu* vus, nuint count);

    [LibraryImport(Library, EntryPoint = "rd_kafka_poll")]
    public static partial int Poll(nint rk, int timeoutMs);

    [LibraryImport(Library, EntryPoint = "rd_kafka_flush")]
    public static partial int Flush(nint rk, int timeoutMs);

    [LibraryImport(Library, EntryPoint = "rd_kafka_outq_len")]
    public static partial int OutqLen(nint rk);

    [LibraryImport(Library, EntryPoint = "rd_kafka_fatal_error")]
    public static partial int FatalError(nint rk, byte* errstr, nuint errstrSize);

    [LibraryImport(Library, EntryPoint = "rd_kafka_init_transactions")]
    public static partial nint InitTransactions(nint rk, int timeoutMs);

    [LibraryImport(Library, EntryPoint = "rd_kafka_begin_transaction")]
    public static partial nint BeginTransaction(nint rk);

    [LibraryImport(Library, EntryPoint = "rd_kafka_commit_transaction")]
    public static partial nint CommitTransaction(nint rk, int timeoutMs);

    [LibraryImport(Library, EntryPoint = "rd_kafka_abort_transaction")]
    public static partial nint AbortTransaction(nint rk, int timeoutMs);

    [LibraryImport(Library, EntryPoint = "rd_kafka_error_code")]
    public static partial int ErrorCode(nint error);

    [LibraryImport(Library, EntryPoint = "rd_kafka_error_string")]
    public static partial byte* ErrorString(nint error);

    [LibraryImport(Library, EntryPoint = "rd_kafka_error_is_fatal")]
    public static partial int ErrorIsFatal(nint error);

    [LibraryImport(Library, EntryPoint = "rd_kafka_error_is_retriable")]
    public static partial int ErrorIsRetriable(nint error);

    [LibraryImport(Library, EntryPoint = "rd_kafka_error_txn_requires_abort")]
    public static partial int ErrorTxnRequiresAbort(nint error);

    [LibraryImport(Library, EntryPoint = "rd_kafka_error_destroy")]
    public static partial void ErrorDestroy(nint error);

    /// <summary><c>rd_kafka_vtype_t</c>: what one <see cref="Vu"/> of <c>rd_kafka_produceva</c> holds.</summary>
    public enum VType
    {
        End = 0,
        Topic = 1,
        Rkt = 2,
        Partition = 3,
        Value = 4,
        Key = 5,
        Opaque = 6,
        MsgFlags = 7,
        Timestamp = 8,
        Header = 9,
        Headers = 10,
    }

    /// <summary>
    /// <c>rd_kafka_vu_t</c>: a type and a union padded to 64 bytes. <see cref="A"/>, <see cref="B"/>
    /// and <see cref="C"/> are the union's first three pointer-sized words: <c>mem</c> is (ptr, size),
    /// <c>header</c> is (name, value, size), the other members sit in <see cref="A"/>.
    /// </summary>
    [StructLayout(LayoutKind.Explicit, Size = 72)]
    public struct Vu
    {
        [FieldOffset(0)]
        public VType Type;

        [FieldOffset(8)]
        public nint A;

        [FieldOffset(16)]
        public nint B;

        [FieldOffset(24)]
        public nint C;
    }

    /// <summary><c>rd_kafka_message_t</c>, as a delivery report carries it.</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct Message
    {
        public int Err;
        public nint Rkt;
        public int Partition;
        public nint Payload;
        public nuint Length;
        public nint Key;
        public nuint KeyLength;
        public long Offset;
        public nint Private;
    }

    /// <summary>A NUL-terminated UTF-8 string of librdkafka's, or "" for null.</summary>
    public static string Utf8(byte* text) => text is null ? "" : Marshal.PtrToStringUTF8((nint)text) ?? "";
}
