using System.Diagnostics;
using System.Diagnostics.Metrics;
using Ingest.Contracts;

namespace Ingest.Gateway.Diagnostics;

/// <summary>
/// The gateway's counters. Hot paths only do <see cref="Interlocked"/> adds; OpenTelemetry reads
/// the totals through observable instruments, and <c>/stats</c> reads the same totals.
/// </summary>
internal sealed class IngestMetrics
{
    /// <summary>Name of the gateway's <see cref="Meter"/> and <see cref="ActivitySource"/>.</summary>
    public const string Name = "Ingest.Gateway";

    public static readonly ActivitySource ActivitySource = new(Name);

    private long _connectionsOpened;
    private long _connectionsActive;
    private long _messagesReceived;
    private long _messagesRejected;
    private long _messagesTimedOut;
    private long _connectionsRefused;
    private long _eventsReceived;
    private long _eventsDelivered;
    private long _messagesDeliveryFailed;
    private long _deadLetters;
    private long _deadLettersFailed;
    private long _bytesReceived;
    private long _acksSent;
    private long _streamSubscribers;
    private long _streamDelivered;
    private long _streamDropped;

    public IngestMetrics(IMeterFactory meterFactory)
    {
        var meter = meterFactory.Create(Name);
        meter.CreateObservableCounter("ingest.connections.opened", () => Volatile.Read(ref _connectionsOpened), "{connection}", "WebSocket connections accepted");
        meter.CreateObservableUpDownCounter("ingest.connections.active", () => Volatile.Read(ref _connectionsActive), "{connection}", "Open WebSocket connections");
        meter.CreateObservableCounter("ingest.messages.received", () => Volatile.Read(ref _messagesReceived), "{message}", "WebSocket data messages received");
        meter.CreateObservableCounter("ingest.messages.timed_out", () => Volatile.Read(ref _messagesTimedOut), "{message}", "Messages not completed within Ingest:WebSocket:MessageTimeoutMs (connection closed with 1008)");
        meter.CreateObservableCounter("ingest.connections.refused", () => Volatile.Read(ref _connectionsRefused), "{connection}", "WebSocket handshakes refused at a connection limit (503 or 429)");
        meter.CreateObservableCounter("ingest.messages.rejected", () => Volatile.Read(ref _messagesRejected), "{message}", "Messages answered with an error frame");
        meter.CreateObservableCounter("ingest.events.received", () => Volatile.Read(ref _eventsReceived), "{event}", "Valid events queued for Kafka");
        meter.CreateObservableCounter("ingest.events.delivered", () => Volatile.Read(ref _eventsDelivered), "{event}", "Events written to Kafka (acks=all)");
        meter.CreateObservableCounter("ingest.messages.delivery_failed", () => Volatile.Read(ref _messagesDeliveryFailed), "{message}", "Messages answered with delivery_failed");
        meter.CreateObservableCounter("ingest.dead_letters.written", () => Volatile.Read(ref _deadLetters), "{record}", "Dead-letter records written");
        meter.CreateObservableCounter("ingest.dead_letters.failed", () => Volatile.Read(ref _deadLettersFailed), "{record}", "Dead-letter records Kafka did not take");
        meter.CreateObservableCounter("ingest.bytes.received", () => Volatile.Read(ref _bytesReceived), "By", "Payload bytes of data messages received");
        meter.CreateObservableCounter("ingest.acks.sent", () => Volatile.Read(ref _acksSent), "{frame}", "Ack frames sent (each covers every message resolved before it)");
        meter.CreateObservableUpDownCounter("ingest.stream.subscribers", () => Volatile.Read(ref _streamSubscribers), "{subscriber}", "Open /stream subscriptions");
        meter.CreateObservableCounter("ingest.stream.events.delivered", () => Volatile.Read(ref _streamDelivered), "{event}", "Events written to /stream subscribers");
        meter.CreateObservableCounter("ingest.stream.events.dropped", () => Volatile.Read(ref _streamDropped), "{event}", "Events dropped for /stream subscribers whose queue was full");
        Meter = meter;
    }

    /// <summary>The meter, for instruments owned by other components (the channel depth gauge).</summary>
    public Meter Meter { get; }

    public void ConnectionOpened()
    {
        Interlocked.Increment(ref _connectionsOpened);
        Interlocked.Increment(ref _connectionsActive);
    }

    public void ConnectionClosed() => Interlocked.Decrement(ref _connectionsActive);

    public void MessageReceived(int bytes)
    {
        Interlocked.Increment(ref _messagesReceived);
        Interlocked.Add(ref _bytesReceived, bytes);
    }

    public void MessageRejected() => Interlocked.Increment(ref _messagesRejected);

    public void MessageTimedOut() => Interlocked.Increment(ref _messagesTimedOut);

    public void ConnectionRefused() => Interlocked.Increment(ref _connectionsRefused);

    public void EventsReceived(int count) => Interlocked.Add(ref _eventsReceived, count);

    public void EventsDelivered(int count) => Interlocked.Add(ref _eventsDelivered, count);

    public void DeliveryFailed() => Interlocked.Increment(ref _messagesDeliveryFailed);

    public void AckSent() => Interlocked.Increment(ref _acksSent);

    public void DeadLetterWritten(bool failed) => Interlocked.Increment(ref failed ? ref _deadLettersFailed : ref _deadLetters);

    public void StreamSubscribed() => Interlocked.Increment(ref _streamSubscribers);

    public void StreamUnsubscribed() => Interlocked.Decrement(ref _streamSubscribers);

    public void StreamEventsDelivered(int count) => Interlocked.Add(ref _streamDelivered, count);

    public void StreamEventDropped() => Interlocked.Increment(ref _streamDropped);

    /// <summary>A consistent-enough snapshot for <c>/stats</c>.</summary>
    public GatewayStats Snapshot(int channelDepth, int channelCapacity) => new(
        Volatile.Read(ref _connectionsActive),
        Volatile.Read(ref _connectionsOpened),
        Volatile.Read(ref _messagesReceived),
        Volatile.Read(ref _messagesRejected),
        Volatile.Read(ref _eventsReceived),
        Volatile.Read(ref _eventsDelivered),
        Volatile.Read(ref _messagesDeliveryFailed),
        Volatile.Read(ref _deadLetters),
        Volatile.Read(ref _acksSent),
        channelDepth,
        channelCapacity,
        Volatile.Read(ref _streamSubscribers),
        Volatile.Read(ref _streamDelivered),
        Volatile.Read(ref _streamDropped),
        GC.GetTotalAllocatedBytes(),
        GC.CollectionCount(0),
        GC.CollectionCount(2),
        (long)GC.GetTotalPauseDuration().TotalMilliseconds);
}
