namespace Ingest.Gateway.Pipeline;

/// <summary>Told once every record of an item it queued is resolved by Kafka.</summary>
internal interface IDeliveryTarget
{
    /// <summary>Every record was written with <c>acks=all</c> (for a dead letter: or the attempt ended).</summary>
    void OnDelivered(PipelineItem item);

    /// <summary>At least one event of the item was not written within the delivery timeout.</summary>
    void OnDeliveryFailed(PipelineItem item, string reason);
}

/// <summary>What a pipeline item carries to Kafka.</summary>
internal enum PipelineItemKind
{
    /// <summary>The events of a valid message, for the events topic.</summary>
    Events,

    /// <summary>The one dead-letter record of a rejected message, for the dead-letter topic.</summary>
    DeadLetter,
}

/// <summary>One valid event: its key (the UTF-8 <c>clientId</c>) and its bytes as the client sent them.</summary>
internal readonly record struct EventRecord(byte[] Key, byte[] Value);

/// <summary>
/// The connection an item came on. <see cref="RecordCache"/> belongs to the Kafka side (one
/// producer thread), which keeps the connection's record metadata there between its messages.
/// </summary>
internal sealed class ItemSource(string connectionId)
{
    public string ConnectionId { get; } = connectionId;

    public byte[] ConnectionIdUtf8 { get; } = System.Text.Encoding.UTF8.GetBytes(connectionId);

    /// <summary>Used only by the producer's thread.</summary>
    public object? RecordCache { get; set; }

    /// <summary>The connection's event rate bucket (<see cref="Limits.EventRateLimiter"/>); used only by its reader.</summary>
    public Limits.TokenBucket? RateBucket { get; set; }

    /// <summary>The connection's recorded activity; null while tracing is off (its records carry no <c>traceparent</c>).</summary>
    public Diagnostics.TraceOrigin? Trace { get; set; }
}

/// <summary>
/// One WebSocket data message on its way to Kafka, with no Kafka type in it: the events of a valid
/// message, or the dead-letter record of a rejected one, plus where and when it was received. It
/// counts its records' outcomes and tells its <see cref="IDeliveryTarget"/> once all are in.
/// </summary>
internal sealed class PipelineItem
{
    private int _remaining;
    private string? _firstError;

    private PipelineItem(IDeliveryTarget target, ItemSource source, long sequence, long receivedAtMs, PipelineItemKind kind, int records)
    {
        Target = target;
        Source = source;
        Sequence = sequence;
        ReceivedAtMs = receivedAtMs;
        Kind = kind;
        _remaining = records;
    }

    public IDeliveryTarget Target { get; }

    public ItemSource Source { get; }

    /// <summary>The message's number on its connection (1, 2, 3, ...).</summary>
    public long Sequence { get; }

    /// <summary>When the gateway read the message, Unix milliseconds.</summary>
    public long ReceivedAtMs { get; }

    public PipelineItemKind Kind { get; }

    /// <summary>The events (<see cref="PipelineItemKind.Events"/>); empty for a dead letter.</summary>
    public EventRecord[] Events { get; private init; } = [];

    /// <summary>The rejected message's bytes (<see cref="PipelineItemKind.DeadLetter"/>).</summary>
    public byte[] Payload { get; private init; } = [];

    /// <summary>A dead letter's error code (<see cref="Contracts.ErrorCodes"/>).</summary>
    public string ErrorCode { get; private init; } = "";

    /// <summary>A dead letter's reason, in words.</summary>
    public string ErrorDetail { get; private init; } = "";

    /// <summary>Records this item becomes in Kafka.</summary>
    public int RecordCount => Kind == PipelineItemKind.Events ? Events.Length : 1;

    /// <summary>The budget bytes this item holds until every record is resolved.</summary>
    public MemoryLease Lease { get; private init; }

    /// <summary>The first failure, once every record is resolved; null when all were written.</summary>
    public string? FirstError => Volatile.Read(ref _firstError);

    /// <summary>When the producer took the item off the channel (a <see cref="TimeProvider"/> timestamp); the producer's only.</summary>
    public long TakenAt { get; set; }

    /// <summary>The Kafka batch activity the item's records belong to, while tracing listens; the producer's only.</summary>
    public object? Batch { get; set; }

    /// <summary>The producer's handle of this item while its records are in flight (their delivery reports' opaque value); the producer's only.</summary>
    public nint DeliveryHandle { get; set; }

    public static PipelineItem ForEvents(IDeliveryTarget target, ItemSource source, long sequence, long receivedAtMs, EventRecord[] events, MemoryLease lease = default)
    {
        ArgumentOutOfRangeException.ThrowIfZero(events.Length);
        return new PipelineItem(target, source, sequence, receivedAtMs, PipelineItemKind.Events, events.Length) { Events = events, Lease = lease };
    }

    public static PipelineItem ForDeadLetter(IDeliveryTarget target, ItemSource source, long sequence, long receivedAtMs, byte[] payload, string errorCode, string detail, MemoryLease lease = default) =>
        new(target, source, sequence, receivedAtMs, PipelineItemKind.DeadLetter, 1)
        {
            Payload = payload,
            ErrorCode = errorCode,
            ErrorDetail = detail,
            Lease = lease,
        };

    /// <summary>Whether a record of the item was reported failed (then its message is answered <c>delivery_failed</c>).</summary>
    public bool Failed => Volatile.Read(ref _firstError) is not null;

    /// <summary>
    /// Counts one record as resolved: <paramref name="error"/> is null when it was written. True
    /// for the last one, once the item's target has been told.
    /// </summary>
    public bool Complete(string? error)
    {
        if (error is not null)
        {
            Interlocked.CompareExchange(ref _firstError, error, null);
        }

        if (Interlocked.Decrement(ref _remaining) != 0)
        {
            return false;
        }

        Resolve();
        return true;
    }

    /// <summary>
    /// Resolves every record at once, as a Kafka transaction does (its commit or its abort):
    /// <paramref name="error"/> is null when all were written. True when this call resolved the item.
    /// </summary>
    public bool CompleteAll(string? error)
    {
        if (error is not null)
        {
            Interlocked.CompareExchange(ref _firstError, error, null);
        }

        if (Interlocked.Exchange(ref _remaining, 0) <= 0)
        {
            return false;
        }

        Resolve();
        return true;
    }

    private void Resolve()
    {
        Lease.Release();

        if (_firstError is { } failure && Kind == PipelineItemKind.Events)
        {
            Target.OnDeliveryFailed(this, failure);
        }
        else
        {
            Target.OnDelivered(this);
        }
    }
}

/// <summary>A target that needs no answer: dead letters (a rejected message is resolved by its error frame).</summary>
internal sealed class UntrackedDelivery : IDeliveryTarget
{
    public static readonly UntrackedDelivery Instance = new();

    public void OnDelivered(PipelineItem item)
    {
    }

    public void OnDeliveryFailed(PipelineItem item, string reason)
    {
    }
}
