using Confluent.Kafka;

namespace Ingest.Gateway.Pipeline;

/// <summary>Told when the records of a message it registered are resolved by Kafka.</summary>
internal interface IDeliveryTarget
{
    /// <summary>Every record of the message was written with <c>acks=all</c>, or (for a dead-letter record) the attempt ended.</summary>
    void OnDelivered(IngestMessage message);

    /// <summary>At least one record of a message of events was not written within the delivery timeout.</summary>
    void OnDeliveryFailed(IngestMessage message, Error error);
}

/// <summary>One record to produce: its key (null for none) and its value.</summary>
internal readonly record struct OutgoingRecord(byte[]? Key, byte[] Value);

/// <summary>
/// One WebSocket data message on its way to Kafka: the events of a valid message, or the single
/// dead-letter record of a rejected one. It counts its delivery reports and tells its
/// <see cref="IDeliveryTarget"/> once all of them are in.
/// </summary>
internal sealed class IngestMessage
{
    private int _remaining;
    private Error? _firstError;

    public IngestMessage(IDeliveryTarget target, long sequence, string topic, OutgoingRecord[] records, Headers headers, bool isDeadLetter)
    {
        ArgumentOutOfRangeException.ThrowIfZero(records.Length);
        Target = target;
        Sequence = sequence;
        Topic = topic;
        Records = records;
        Headers = headers;
        IsDeadLetter = isDeadLetter;
        _remaining = records.Length;
        DeliveryHandler = OnDeliveryReport;
    }

    public IDeliveryTarget Target { get; }

    /// <summary>The message's number on its connection (1, 2, 3, ...).</summary>
    public long Sequence { get; }

    public string Topic { get; }

    public OutgoingRecord[] Records { get; }

    /// <summary>Headers shared by every record of the message (the producer copies them on produce).</summary>
    public Headers Headers { get; }

    public bool IsDeadLetter { get; }

    /// <summary>The first delivery error, once every record is resolved; null when all were written.</summary>
    public Error? FirstError => Volatile.Read(ref _firstError);

    /// <summary>One delegate per message, shared by its records' delivery reports.</summary>
    public Action<DeliveryReport<byte[], byte[]>> DeliveryHandler { get; }

    private void OnDeliveryReport(DeliveryReport<byte[], byte[]> report) => Complete(report.Error);

    /// <summary>Counts one record as resolved, with or without an error (also used when produce throws).</summary>
    public void Complete(Error error)
    {
        if (error.IsError)
        {
            Interlocked.CompareExchange(ref _firstError, error, null);
        }

        if (Interlocked.Decrement(ref _remaining) != 0)
        {
            return;
        }

        if (_firstError is { } failure && !IsDeadLetter)
        {
            Target.OnDeliveryFailed(this, failure);
        }
        else
        {
            Target.OnDelivered(this);
        }
    }
}
