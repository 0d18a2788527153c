using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text;
using Confluent.Kafka;
using static Ingest.Kafka.Native.LibrdkafkaImports;

namespace Ingest.Kafka.Native;

/// <summary>
/// What a <see cref="NativeProducer"/> reports. <see cref="OnDelivery"/>, <see cref="OnError"/> and
/// <see cref="OnStatistics"/> run on the thread that polls (the producer's own poll thread, or a
/// <see cref="NativeProducer.Poll"/>, <see cref="NativeProducer.Flush"/> or transaction call);
/// <see cref="OnLog"/> on any of librdkafka's threads.
/// </summary>
public interface INativeProducerEvents
{
    /// <summary>One record's outcome: <paramref name="opaque"/> as given to <see cref="NativeProducer.Produce"/>; <paramref name="outcome"/> is <see cref="ErrorCode.NoError"/> when it was written.</summary>
    void OnDelivery(nint opaque, ErrorCode outcome);

    /// <summary>A client-level error (<see cref="Error.IsFatal"/> for the fatal ones).</summary>
    void OnError(Error clientError);

    /// <summary>A log line of librdkafka's: syslog level, facility and text.</summary>
    void OnLog(int level, string facility, string message);

    /// <summary>librdkafka's statistics JSON (every <c>statistics.interval.ms</c>).</summary>
    void OnStatistics(string json);
}

/// <summary>
/// A Kafka producer on librdkafka directly: records go in through one <c>rd_kafka_produceva</c>
/// each, with the caller's opaque value, and come back through <see cref="INativeProducerEvents"/>.
/// It exists for the hot path of the gateway, where Confluent.Kafka's <c>Produce</c> creates managed
/// objects per record (a pinned handle for the delivery handler, its header marshalling, a
/// <c>DeliveryReport</c> with its <c>TopicPartitionOffset</c>) that this path does not. The
/// configuration is librdkafka's (a <see cref="ProducerConfig"/>'s properties; Confluent.Kafka's
/// own <c>dotnet.*</c> keys are skipped).
/// </summary>
/// <remarks>
/// <see cref="Produce"/>, <see cref="Flush"/> and the transaction calls belong to one thread at a
/// time (the gateway's producer thread). Delivery reports, errors and statistics are served by
/// <see cref="Poll"/>, <see cref="Flush"/> and the transaction calls; by default a background thread
/// also polls until <see cref="Dispose"/>. Without it (<c>pollThread: false</c>) the thread that
/// produces must poll: then librdkafka frees each record on the thread that allocated it, which
/// glibc's allocator does far faster than a free from another thread (for the gateway's record,
/// 3.7-4.6 us of CPU per record against 5.4-8.7 in one sitting, docs/benchmarks.md). Key, value and
/// headers are copied by librdkafka during the call.
/// </remarks>
public sealed unsafe class NativeProducer : IDisposable
{
    private const int ErrorBufferSize = 512;
    private const int MaxHeaders = 8;
    private const int PollTimeoutMs = 100;

    private readonly INativeProducerEvents _events;
    private readonly nint _rk;
    private GCHandle _self;
    private readonly Dictionary<string, nint> _topics = new(StringComparer.Ordinal);
    private readonly Dictionary<string, nint> _headerNames = new(StringComparer.Ordinal);
    private readonly Thread? _poller;
    private byte[] _headerValues = GC.AllocateUninitializedArray<byte>(1024, pinned: true);
    private volatile bool _disposing;
    private int _disposed;

    /// <param name="config">librdkafka's properties.</param>
    /// <param name="events">Where reports, errors, logs and statistics go.</param>
    /// <param name="pollThread">Whether a background thread polls (false: the caller polls, see remarks).</param>
    public NativeProducer(IEnumerable<KeyValuePair<string, string>> config, INativeProducerEvents events, bool pollThread = true)
    {
        ArgumentNullException.ThrowIfNull(config);
        _events = events ?? throw new ArgumentNullException(nameof(events));
        EnsureResolver();
        var errstr = stackalloc byte[ErrorBufferSize];
        var conf = ConfNew();
        try
        {
            foreach (var (key, value) in config)
            {
                if (key.StartsWith("dotnet.", StringComparison.Ordinal) || value is null)
                {
                    continue;
                }

                if (ConfSet(conf, key, value, errstr, ErrorBufferSize) != ConfOk)
                {
                    throw new ArgumentException($"librdkafka refused {key}: {Utf8(errstr)}", nameof(config)); // not the value: it may be a secret
                }
            }

            _self = GCHandle.Alloc(this, GCHandleType.Weak);
            ConfSetOpaque(conf, GCHandle.ToIntPtr(_self));
            ConfSetDeliveryReportCallback(conf, &OnDeliveryReport);
            ConfSetErrorCallback(conf, &OnErrorCallback);
            ConfSetLogCallback(conf, &OnLogCallback);
            ConfSetStatisticsCallback(conf, &OnStatisticsCallback);
        }
        catch
        {
            ConfDestroy(conf);
            if (_self.IsAllocated)
            {
                _self.Free();
            }

            throw;
        }

        // rd_kafka_new owns the configuration from here on when it succeeds.
        _rk = KafkaNew(ProducerType, conf, errstr, ErrorBufferSize);
        if (_rk == 0)
        {
            ConfDestroy(conf);
            _self.Free();
            throw new KafkaException(new Error(Confluent.Kafka.ErrorCode.Local_Fail, $"librdkafka could not create a producer: {Utf8(errstr)}"));
        }

        Name = Utf8(LibrdkafkaImports.Name(_rk));
        if (pollThread)
        {
            _poller = new Thread(PollLoop) { IsBackground = true, Name = "kafka-poll" };
            _poller.Start();
        }
    }

    /// <summary>librdkafka's name of the client (<c>client.id</c> and a number).</summary>
    public string Name { get; }

    /// <summary>Records queued in librdkafka and not yet reported (<c>rd_kafka_outq_len</c>).</summary>
    public int QueueLength => OutqLen(_rk);

    /// <summary>
    /// Queues one record for <paramref name="topic"/> (partitioned by its key), copying key, value
    /// and headers. Returns <see cref="ErrorCode.NoError"/>, or why librdkafka did not take it
    /// (<see cref="ErrorCode.Local_QueueFull"/> when its queue is full: poll and try again); then no
    /// delivery report will come for it. <paramref name="timestampMs"/> is the record's timestamp
    /// (Unix ms; 0: now).
    /// </summary>
    public ErrorCode Produce(string topic, ReadOnlySpan<byte> key, ReadOnlySpan<byte> value, Headers? headers, nint opaque, long timestampMs = 0)
    {
        var count = headers?.Count ?? 0;
        if (count > MaxHeaders)
        {
            throw new ArgumentOutOfRangeException(nameof(headers), count, $"At most {MaxHeaders} headers per record.");
        }

        var vus = stackalloc Vu[6 + MaxHeaders];
        var n = 0;
        vus[n++] = new Vu { Type = VType.Rkt, A = TopicHandle(topic) };
        vus[n++] = new Vu { Type = VType.MsgFlags, A = MsgFlagCopy };
        vus[n++] = new Vu { Type = VType.Opaque, A = opaque };
        if (timestampMs != 0)
        {
            vus[n++] = new Vu { Type = VType.Timestamp, A = (nint)timestampMs };
        }

        var headerBytes = 0;
        for (var h = 0; h < count; h++)
        {
            headerBytes += headers![h].GetValueBytes()?.Length ?? 0;
        }

        if (headerBytes > _headerValues.Length)
        {
            _headerValues = GC.AllocateUninitializedArray<byte>(Math.Max(headerBytes, 2 * _headerValues.Length), pinned: true);
        }

        // The header values go through one pinned buffer of this producer's (librdkafka copies them
        // during the call): no pinning per header.
        var values = (byte*)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(_headerValues));
        var offset = 0;
        for (var h = 0; h < count; h++)
        {
            var header = headers![h];
            var bytes = header.GetValueBytes();
            if (bytes is null)
            {
                // A header without a value: a null pointer (librdkafka reads size -1 as a C string's).
                vus[n++] = new Vu { Type = VType.Header, A = HeaderName(header.Key), B = 0, C = 0 };
                continue;
            }

            bytes.CopyTo(_headerValues, offset);
            vus[n++] = new Vu { Type = VType.Header, A = HeaderName(header.Key), B = (nint)(values + offset), C = bytes.Length };
            offset += bytes.Length;
        }

        fixed (byte* k = key)
        fixed (byte* v = value)
        {
            // An empty span over an array is an empty key or value, not a missing one (a null
            // pointer to librdkafka): it points at the pinned buffer, with length 0.
            if (!Unsafe.IsNullRef(in MemoryMarshal.GetReference(key)))
            {
                vus[n++] = new Vu { Type = VType.Key, A = key.IsEmpty ? (nint)values : (nint)k, B = key.Length };
            }

            vus[n++] = new Vu { Type = VType.Value, A = value.IsEmpty && !Unsafe.IsNullRef(in MemoryMarshal.GetReference(value)) ? (nint)values : (nint)v, B = value.Length };
            return Result(Produceva(_rk, vus, (nuint)n));
        }
    }

    /// <summary>Serves delivery reports and errors on this thread for up to <paramref name="timeout"/>.</summary>
    public int Poll(TimeSpan timeout) => LibrdkafkaImports.Poll(_rk, (int)timeout.TotalMilliseconds);

    /// <summary>Waits until every queued record is reported, or <paramref name="timeout"/>; returns how many are still queued.</summary>
    public int Flush(TimeSpan timeout)
    {
        _ = LibrdkafkaImports.Flush(_rk, (int)Math.Clamp(timeout.TotalMilliseconds, 0, int.MaxValue));
        return OutqLen(_rk);
    }

    /// <summary>The fatal error that stopped the producer, or null while there is none.</summary>
    public Error? FatalError()
    {
        var errstr = stackalloc byte[ErrorBufferSize];
        var code = LibrdkafkaImports.FatalError(_rk, errstr, ErrorBufferSize);
        return code == 0 ? null : new Error((ErrorCode)code, Utf8(errstr), isFatal: true);
    }

    /// <summary>Registers the <c>transactional.id</c> with its coordinator (fencing older producers of it).</summary>
    /// <exception cref="KafkaException">As Confluent.Kafka's <c>InitTransactions</c> throws it.</exception>
    public void InitTransactions(TimeSpan timeout) => ThrowOn(LibrdkafkaImports.InitTransactions(_rk, Milliseconds(timeout)));

    public void BeginTransaction() => ThrowOn(LibrdkafkaImports.BeginTransaction(_rk));

    public void CommitTransaction(TimeSpan timeout) => ThrowOn(LibrdkafkaImports.CommitTransaction(_rk, Milliseconds(timeout)));

    public void AbortTransaction(TimeSpan timeout) => ThrowOn(LibrdkafkaImports.AbortTransaction(_rk, Milliseconds(timeout)));

    /// <summary>Stops polling and destroys the handle: records still queued get no report. Flush first.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        _disposing = true;
        _poller?.Join();
        foreach (var topic in _topics.Values)
        {
            TopicDestroy(topic);
        }

        KafkaDestroy(_rk);
        foreach (var name in _headerNames.Values)
        {
            NativeMemory.Free((void*)name);
        }

        _self.Free();
    }

    private void PollLoop()
    {
        while (!_disposing)
        {
            _ = LibrdkafkaImports.Poll(_rk, PollTimeoutMs);
        }
    }

    private nint TopicHandle(string topic)
    {
        if (!_topics.TryGetValue(topic, out var rkt))
        {
            rkt = TopicNew(_rk, topic, 0);
            if (rkt == 0)
            {
                throw new KafkaException(new Error(Confluent.Kafka.ErrorCode.Local_Fail, $"librdkafka could not create a handle for topic '{topic}'"));
            }

            _topics.Add(topic, rkt);
        }

        return rkt;
    }

    /// <summary>A header name as a NUL-terminated UTF-8 string in native memory, made once per name.</summary>
    private nint HeaderName(string name)
    {
        if (!_headerNames.TryGetValue(name, out var pointer))
        {
            var length = Encoding.UTF8.GetByteCount(name);
            var bytes = (byte*)NativeMemory.Alloc((nuint)length + 1);
            Encoding.UTF8.GetBytes(name, new Span<byte>(bytes, length));
            bytes[length] = 0;
            pointer = (nint)bytes;
            _headerNames.Add(name, pointer);
        }

        return pointer;
    }

    private static int Milliseconds(TimeSpan timeout) => (int)Math.Clamp(timeout.TotalMilliseconds, -1, int.MaxValue);

    private static ErrorCode Result(nint error)
    {
        if (error == 0)
        {
            return Confluent.Kafka.ErrorCode.NoError;
        }

        var code = (ErrorCode)LibrdkafkaImports.ErrorCode(error);
        ErrorDestroy(error);
        return code;
    }

    /// <summary>Throws an <c>rd_kafka_error_t</c> as Confluent.Kafka would, and destroys it; nothing for null.</summary>
    private static void ThrowOn(nint error)
    {
        if (error == 0)
        {
            return;
        }

        var kafkaError = new Error((ErrorCode)LibrdkafkaImports.ErrorCode(error), Utf8(ErrorString(error)), ErrorIsFatal(error) != 0);
        var requiresAbort = ErrorTxnRequiresAbort(error) != 0;
        var retriable = ErrorIsRetriable(error) != 0;
        ErrorDestroy(error);
        if (requiresAbort)
        {
            throw new KafkaTxnRequiresAbortException(kafkaError);
        }

        if (retriable)
        {
            throw new KafkaRetriableException(kafkaError);
        }

        throw new KafkaException(kafkaError);
    }

    private static NativeProducer? Of(nint opaque) =>
        opaque == 0 ? null : GCHandle.FromIntPtr(opaque).Target as NativeProducer;

    [UnmanagedCallersOnly]
    private static void OnDeliveryReport(nint rk, Message* message, nint opaque)
    {
        try
        {
            Of(opaque)?._events.OnDelivery(message->Private, (ErrorCode)message->Err);
        }
        catch (Exception e)
        {
            Environment.FailFast("A delivery report handler threw.", e);
        }
    }

    [UnmanagedCallersOnly]
    private static void OnErrorCallback(nint rk, int err, byte* reason, nint opaque)
    {
        try
        {
            if (Of(opaque) is not { } producer)
            {
                return;
            }

            var error = err == ErrFatal && producer.FatalError() is { } fatal
                ? fatal
                : new Error((ErrorCode)err, Utf8(reason), isFatal: err == ErrFatal);
            producer._events.OnError(error);
        }
        catch (Exception e)
        {
            Environment.FailFast("An error handler threw.", e);
        }
    }

    [UnmanagedCallersOnly]
    private static void OnLogCallback(nint rk, int level, byte* facility, byte* text)
    {
        try
        {
            Of(LibrdkafkaImports.Opaque(rk))?._events.OnLog(level, Utf8(facility), Utf8(text));
        }
        catch (Exception e)
        {
            Environment.FailFast("A log handler threw.", e);
        }
    }

    [UnmanagedCallersOnly]
    private static int OnStatisticsCallback(nint rk, byte* json, nuint length, nint opaque)
    {
        try
        {
            Of(opaque)?._events.OnStatistics(Encoding.UTF8.GetString(json, (int)length));
        }
        catch (Exception e)
        {
            Environment.FailFast("A statistics handler threw.", e);
        }

        return 0; // librdkafka frees the JSON
    }
}
