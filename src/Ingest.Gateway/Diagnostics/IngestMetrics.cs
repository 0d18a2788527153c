using System.Diagnostics;
using System.Diagnostics.Metrics;
using Ingest.Contracts;

namespace Ingest.Gateway.Diagnostics;

/// <summary>How a data message ended up, the <c>outcome</c> tag of <c>ingest.messages.received</c>.</summary>
internal enum MessageOutcome
{
    /// <summary>Valid: its events were queued for Kafka.</summary>
    Accepted,
    InvalidJson,
    InvalidEvent,
    BatchTooLarge,
    BinaryNotSupported,
    ClientIdMismatch,
    MessageTooLarge,
    InvalidUtf8,
    ProtocolError,

    /// <summary>Reading stopped while the message waited for memory or for its rate: never answered, never acked.</summary>
    Dropped,

    /// <summary>An error code this table does not know yet (a new code counts here until it is added).</summary>
    Other,
}

/// <summary>
/// The gateway's meter (docs/operations.md, "Metrics"). Counters are <see cref="TaggedTotals"/>
/// (one <see cref="Interlocked"/> add each, no allocation, no lock) that observable instruments
/// report and <c>/stats</c> reads: one source for both. Histograms are recorded per message or per
/// Kafka batch, never per event.
/// </summary>
internal sealed class IngestMetrics
{
    /// <summary>Name of the gateway's <see cref="Meter"/> and <see cref="ActivitySource"/>.</summary>
    public const string Name = "Ingest.Gateway";

    public static readonly ActivitySource ActivitySource = new(Name);

    /// <summary>Values of the <c>close_code</c> tag; <c>none</c>: the connection ended without a close frame (the client vanished).</summary>
    internal static readonly string[] CloseCodeValues = ["1000", "1001", "1002", "1007", "1008", "1009", "1011", "none", "other"];

    internal static readonly string[] MessageOutcomeValues =
    [
        "accepted",
        ErrorCodes.InvalidJson,
        ErrorCodes.InvalidEvent,
        ErrorCodes.BatchTooLarge,
        ErrorCodes.BinaryNotSupported,
        ErrorCodes.ClientIdMismatch,
        ErrorCodes.MessageTooLarge,
        ErrorCodes.InvalidUtf8,
        ErrorCodes.ProtocolError,
        "dropped",
        "other",
    ];

    internal static readonly string[] EventOutcomeValues = ["accepted", ErrorCodes.ClientIdMismatch];

    internal static readonly string[] RefusalValues = ["too_many_connections", "too_many_connections_from_address", "other"];

    private static readonly double[] DurationBuckets = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120];
    private static readonly double[] SizeBuckets = [64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384, 32768, 65536, 131072, 262144, 524288, 1048576];
    private static readonly long[] BatchBuckets = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 20000, 50000, 100000];

    private readonly TaggedTotals _messages = new("outcome", MessageOutcomeValues);
    private readonly TaggedTotals _events = new("outcome", EventOutcomeValues);
    private readonly TaggedTotals _closed = new("close_code", CloseCodeValues);
    private readonly TaggedTotals _refused = new("reason", RefusalValues);
    private readonly TaggedTotals _deadLetters = new("outcome", ["written", "failed"]);
    private readonly TaggedTotals _stream = new("outcome", ["delivered", "dropped"]);
    private readonly TaggedTotals _transactions = new("outcome", ["committed", "aborted"]);
    private readonly Histogram<double> _messageSize;
    private readonly Histogram<double> _ackDuration;
    private readonly Histogram<double> _produceDuration;
    private readonly Histogram<long> _batchSize;
    private readonly Histogram<double> _transactionDuration;

    private long _connectionsOpened;
    private long _connectionsActive;
    private long _messagesTimedOut;
    private long _eventsDelivered;
    private long _messagesDeliveryFailed;
    private long _acksSent;
    private long _streamSubscribers;

    public IngestMetrics(IMeterFactory meterFactory)
    {
        var meter = meterFactory.Create(Name);
        meter.CreateObservableCounter("ingest.connections.opened", () => Volatile.Read(ref _connectionsOpened), "{connection}", "WebSocket connections accepted");
        meter.CreateObservableUpDownCounter("ingest.connections.active", () => Volatile.Read(ref _connectionsActive), "{connection}", "Open WebSocket connections");
        meter.CreateObservableCounter("ingest.connections.closed", _closed.Measure, "{connection}", "WebSocket connections ended, by the close code the gateway ended them with (none: the client vanished)");
        meter.CreateObservableCounter("ingest.connections.refused", _refused.Measure, "{connection}", "WebSocket handshakes refused at a connection limit (503 or 429), by reason");
        meter.CreateObservableCounter("ingest.messages.received", _messages.Measure, "{message}", "WebSocket data messages received, by outcome: accepted, or the error code they were answered with");
        meter.CreateObservableCounter("ingest.messages.timed_out", () => Volatile.Read(ref _messagesTimedOut), "{message}", "Messages not completed within Ingest:WebSocket:MessageTimeoutMs (connection closed with 1008)");
        meter.CreateObservableCounter("ingest.messages.delivery_failed", () => Volatile.Read(ref _messagesDeliveryFailed), "{message}", "Accepted messages answered with delivery_failed (Kafka did not take them in time)");
        meter.CreateObservableCounter("ingest.events.received", _events.Measure, "{event}", "Events in well-formed messages, by outcome: accepted (queued for Kafka) or client_id_mismatch");
        meter.CreateObservableCounter("ingest.events.delivered", () => Volatile.Read(ref _eventsDelivered), "{event}", "Events written to Kafka (acks=all)");
        meter.CreateObservableCounter("ingest.acks.sent", () => Volatile.Read(ref _acksSent), "{ack}", "Ack frames sent (each covers every message resolved before it)");
        meter.CreateObservableCounter("ingest.dead_letters", _deadLetters.Measure, "{record}", "Dead-letter records, by outcome: written, or failed (Kafka did not take them, or no queue memory came in time)");
        meter.CreateObservableUpDownCounter("ingest.stream.subscribers", () => Volatile.Read(ref _streamSubscribers), "{subscriber}", "Open /stream subscriptions");
        meter.CreateObservableCounter("ingest.stream.events", _stream.Measure, "{event}", "Events for /stream subscribers, by outcome: delivered, or dropped (the subscriber's queue was full)");
        _messageSize = meter.CreateHistogram("ingest.message.size", "By", "Size of each WebSocket data message received (after reassembly)", tags: null, new InstrumentAdvice<double> { HistogramBucketBoundaries = SizeBuckets });
        _ackDuration = meter.CreateHistogram("ingest.message.ack.duration", "s", "From reading a message to sending the ack that covers it, as the gateway sees it", tags: null, new InstrumentAdvice<double> { HistogramBucketBoundaries = DurationBuckets });
        _produceDuration = meter.CreateHistogram("ingest.kafka.produce.duration", "s", "From the producer taking a message off the channel to Kafka's last delivery report for its records", tags: null, new InstrumentAdvice<double> { HistogramBucketBoundaries = DurationBuckets });
        _batchSize = meter.CreateHistogram("ingest.kafka.batch.size", "{record}", "Records handed to librdkafka in one pass of the producer (one Kafka batch span)", tags: null, new InstrumentAdvice<long> { HistogramBucketBoundaries = BatchBuckets });
        meter.CreateObservableCounter("ingest.transactions", _transactions.Measure, "{transaction}", "Kafka transactions of the transactional delivery mode (one per producer batch), by outcome: committed, or aborted (its messages answered with delivery_failed)");
        _transactionDuration = meter.CreateHistogram("ingest.transaction.duration", "s", "From beginning a Kafka transaction to the end of its commit or abort (transactional delivery mode)", tags: null, new InstrumentAdvice<double> { HistogramBucketBoundaries = DurationBuckets });
        Meter = meter;
    }

    /// <summary>The meter, for instruments owned by other components (channel depth, librdkafka statistics).</summary>
    public Meter Meter { get; }

    public void ConnectionOpened()
    {
        Interlocked.Increment(ref _connectionsOpened);
        Interlocked.Increment(ref _connectionsActive);
    }

    /// <summary>A connection ended; <paramref name="closeCode"/> is the code the gateway closed it with, null when there was none.</summary>
    public void ConnectionClosed(int? closeCode)
    {
        Interlocked.Decrement(ref _connectionsActive);
        _closed.Add(CloseCodeIndex(closeCode));
    }

    /// <summary>A handshake refused at a limit; <paramref name="reason"/> is the refusal's error code.</summary>
    public void ConnectionRefused(string reason) => _refused.Add(reason switch
    {
        "too_many_connections" => 0,
        "too_many_connections_from_address" => 1,
        _ => 2,
    });

    /// <summary>A data message arrived whole (or was cut at the size limit): its size.</summary>
    public void MessageArrived(int bytes) => _messageSize.Record(bytes);

    /// <summary>A valid message: its <paramref name="events"/> go to Kafka.</summary>
    public void MessageAccepted(int events)
    {
        _messages.Add((int)MessageOutcome.Accepted);
        _events.Add(0, events);
    }

    /// <summary>A message answered with the error <paramref name="code"/> (or closed with it).</summary>
    public void MessageRejected(string code) => _messages.Add((int)OutcomeOf(code));

    /// <summary>Events of a message refused because the connection's token names another clientId.</summary>
    public void EventsRefused(int events) => _events.Add(1, events);

    public void MessageDropped() => _messages.Add((int)MessageOutcome.Dropped);

    public void MessageTimedOut() => Interlocked.Increment(ref _messagesTimedOut);

    public void EventsDelivered(int count) => Interlocked.Add(ref _eventsDelivered, count);

    public void DeliveryFailed() => Interlocked.Increment(ref _messagesDeliveryFailed);

    /// <summary>A message's records were all resolved by Kafka, <paramref name="elapsed"/> after the producer took it.</summary>
    public void MessageProduced(TimeSpan elapsed) => _produceDuration.Record(elapsed.TotalSeconds);

    /// <summary>One pass of the producer handed <paramref name="records"/> records to librdkafka.</summary>
    public void BatchProduced(long records) => _batchSize.Record(records);

    /// <summary>A transaction ended <paramref name="elapsed"/> after it began: committed, or aborted.</summary>
    public void TransactionEnded(bool committed, TimeSpan elapsed)
    {
        _transactions.Add(committed ? 0 : 1);
        _transactionDuration.Record(elapsed.TotalSeconds);
    }

    /// <summary>Transactions committed and aborted so far.</summary>
    public (long Committed, long Aborted) Transactions => (_transactions[0], _transactions[1]);

    public void AckSent() => Interlocked.Increment(ref _acksSent);

    /// <summary>An ack went out that covers a message read <paramref name="elapsed"/> ago.</summary>
    public void MessageAcked(TimeSpan elapsed) => _ackDuration.Record(elapsed.TotalSeconds);

    public void DeadLetterWritten(bool failed) => _deadLetters.Add(failed ? 1 : 0);

    public void StreamSubscribed() => Interlocked.Increment(ref _streamSubscribers);

    public void StreamUnsubscribed() => Interlocked.Decrement(ref _streamSubscribers);

    public void StreamEventsDelivered(int count) => _stream.Add(0, count);

    public void StreamEventDropped() => _stream.Add(1);

    /// <summary>The <c>/stats</c> document, read from the same totals the instruments report.</summary>
    public GatewayStats Snapshot(int channelDepth, int channelCapacity)
    {
        var messages = _messages.Sum;
        return new(
            Volatile.Read(ref _connectionsActive),
            Volatile.Read(ref _connectionsOpened),
            messages,
            messages - _messages[(int)MessageOutcome.Accepted] - _messages[(int)MessageOutcome.Dropped],
            _events[0],
            Volatile.Read(ref _eventsDelivered),
            Volatile.Read(ref _messagesDeliveryFailed),
            _deadLetters[0],
            _deadLetters[1],
            Volatile.Read(ref _acksSent),
            channelDepth,
            channelCapacity,
            Volatile.Read(ref _streamSubscribers),
            _stream[0],
            _stream[1],
            GC.GetTotalAllocatedBytes(),
            GC.CollectionCount(0),
            GC.CollectionCount(2),
            (long)GC.GetTotalPauseDuration().TotalMilliseconds);
    }

    private static MessageOutcome OutcomeOf(string code) => code switch
    {
        ErrorCodes.InvalidJson => MessageOutcome.InvalidJson,
        ErrorCodes.InvalidEvent => MessageOutcome.InvalidEvent,
        ErrorCodes.BatchTooLarge => MessageOutcome.BatchTooLarge,
        ErrorCodes.BinaryNotSupported => MessageOutcome.BinaryNotSupported,
        ErrorCodes.ClientIdMismatch => MessageOutcome.ClientIdMismatch,
        ErrorCodes.MessageTooLarge => MessageOutcome.MessageTooLarge,
        ErrorCodes.InvalidUtf8 => MessageOutcome.InvalidUtf8,
        ErrorCodes.ProtocolError => MessageOutcome.ProtocolError,
        _ => MessageOutcome.Other,
    };

    private static int CloseCodeIndex(int? code) => code switch
    {
        CloseCodes.Normal => 0,
        CloseCodes.GoingAway => 1,
        CloseCodes.ProtocolError => 2,
        CloseCodes.InvalidPayload => 3,
        CloseCodes.PolicyViolation => 4,
        CloseCodes.MessageTooBig => 5,
        CloseCodes.InternalError => 6,
        null => 7,
        _ => 8,
    };
}
