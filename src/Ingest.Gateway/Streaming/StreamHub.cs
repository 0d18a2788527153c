using System.Buffers.Text;
using System.Text;
using Confluent.Kafka;
using Ingest.Gateway.Diagnostics;
using Ingest.Gateway.Configuration;
using Ingest.Contracts;
using Microsoft.Extensions.Options;

namespace Ingest.Gateway.Streaming;

/// <summary>
/// The subscribers of <c>/stream</c> and the fan-out to them. <see cref="StreamConsumer"/>'s thread
/// hands every record to <see cref="Publish"/>, which formats it once and offers it to each
/// matching subscriber's bounded queue without ever waiting, so a slow browser loses its own
/// events and slows nobody else. The hub also tells the consumer when anyone is listening: with no
/// subscribers the consumer lets go of its partitions and reads nothing.
/// </summary>
internal sealed class StreamHub : IDisposable
{
    private readonly Lock _lock = new();
    private readonly ManualResetEventSlim _wanted = new(false);
    private readonly IngestMetrics _metrics;
    private readonly int _queueBytes;
    private readonly int _queueCapacity;
    private readonly int _maxSubscribers;
    private readonly TelemetryFrameWriter _frames = new();
    private SubscriberSet _subscribers = SubscriberSet.Empty;
    private volatile StreamState _state = StreamState.Idle;

    private long _published;

    public StreamHub(IOptions<IngestOptions> options, IngestMetrics metrics)
    {
        _metrics = metrics;
        _queueCapacity = options.Value.Stream.QueueCapacity;
        _queueBytes = options.Value.Stream.QueueBytes;
        _maxSubscribers = options.Value.Stream.MaxSubscribers;
    }

    /// <summary>Subscribers connected now.</summary>
    public int Count => Volatile.Read(ref _subscribers).All.Length;

    /// <summary>Records the consumer has handed to the hub since start (each offered to every subscriber that wants it).</summary>
    public long Published => Volatile.Read(ref _published);

    /// <summary>True while the consumer is positioned and reading: a new subscriber gets every event written after it is ready.</summary>
    public bool IsLive => _state == StreamState.Live;

    /// <summary>
    /// Adds a subscriber (<paramref name="showTrace"/>: its frames carry the records'
    /// <c>traceparent</c>); null when <see cref="StreamOptions.MaxSubscribers"/> are connected already.
    /// </summary>
    public StreamSubscriber? TrySubscribe(string? clientId, bool showTrace = false)
    {
        var subscriber = new StreamSubscriber(clientId, _queueCapacity, _queueBytes) { ShowTrace = showTrace };
        lock (_lock)
        {
            if (_subscribers.All.Length >= _maxSubscribers)
            {
                return null;
            }

            // Published before it is ready: any record consumed after this sees the subscriber.
            Volatile.Write(ref _subscribers, _subscribers.With(subscriber));
            switch (_state)
            {
                case StreamState.Live:
                    subscriber.SetReady(live: true);
                    break;
                case StreamState.Unreachable:
                    subscriber.SetReady(live: false);
                    break;
                default:
                    // The consumer positions itself and then completes it (SetLive).
                    _wanted.Set();
                    break;
            }
        }

        _metrics.StreamSubscribed();
        return subscriber;
    }

    public void Unsubscribe(StreamSubscriber subscriber)
    {
        lock (_lock)
        {
            var remaining = _subscribers.Without(subscriber);
            if (ReferenceEquals(remaining, _subscribers))
            {
                return;
            }

            Volatile.Write(ref _subscribers, remaining);
        }

        _metrics.StreamUnsubscribed();
    }

    /// <summary>Consumer thread: blocks while nobody subscribes; false once <paramref name="stopping"/> is cancelled.</summary>
    public bool WaitForSubscribers(CancellationToken stopping)
    {
        try
        {
            _wanted.Wait(stopping);
            return true;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    /// <summary>
    /// Consumer thread: the consumer is positioned at the end of every partition
    /// (<paramref name="live"/>), or could not reach Kafka. Completes the subscribers' ready.
    /// </summary>
    public void SetLive(bool live)
    {
        lock (_lock)
        {
            _state = live ? StreamState.Live : StreamState.Unreachable;
            foreach (var subscriber in _subscribers.All)
            {
                subscriber.SetReady(live);
            }
        }
    }

    /// <summary>
    /// Consumer thread: when nobody subscribes any more, the hub goes idle (true) and the consumer
    /// lets go of its partitions; the next subscriber waits for it to position itself again.
    /// </summary>
    public bool TryGoIdle()
    {
        if (Count != 0 || _state == StreamState.Idle)
        {
            return false;
        }

        lock (_lock)
        {
            if (_subscribers.All.Length != 0)
            {
                return false;
            }

            _state = StreamState.Idle;
            _wanted.Reset();
            return true;
        }
    }

    /// <summary>Consumer thread: formats a record once and offers it to every subscriber that wants it.</summary>
    public void Publish(ConsumeResult<byte[], byte[]> result)
    {
        Volatile.Write(ref _published, _published + 1); // this thread is the only writer
        var subscribers = Volatile.Read(ref _subscribers);
        if (subscribers.All.Length == 0)
        {
            return;
        }

        var message = result.Message;
        var clientId = message.Key is null ? null : Encoding.UTF8.GetString(message.Key);
        StreamSubscriber[]? filtered = null;
        if (clientId is not null)
        {
            subscribers.ByClientId.TryGetValue(clientId, out filtered);
        }

        if (subscribers.Unfiltered.Length == 0 && filtered is null)
        {
            return;
        }

        var timestamp = message.Timestamp.Type == TimestampType.NotAvailable ? (long?)null : message.Timestamp.UnixTimestampMs;
        var receivedAt = ReceivedAt(message.Headers, message.Timestamp);
        var frame = _frames.Write(result.Partition.Value, result.Offset.Value, timestamp, receivedAt, clientId, message.Value);
        // A second frame only while someone asked for trace context (?trace=1).
        var traced = subscribers.AnyShowTrace
            ? _frames.Write(result.Partition.Value, result.Offset.Value, timestamp, receivedAt, clientId, message.Value, new TraceField(TraceParent(message.Headers)))
            : frame;
        Offer(subscribers.Unfiltered, frame, traced);
        if (filtered is not null)
        {
            Offer(filtered, frame, traced);
        }
    }

    public void Dispose()
    {
        _wanted.Dispose();
        _frames.Dispose();
    }

    private void Offer(StreamSubscriber[] subscribers, byte[] frame, byte[] traced)
    {
        foreach (var subscriber in subscribers)
        {
            if (!subscriber.TryEnqueue(subscriber.ShowTrace ? traced : frame))
            {
                _metrics.StreamEventDropped();
            }
        }
    }

    /// <summary>
    /// When the gateway read the event: its <c>ingest-received-at</c> header (Unix ms, decimal ASCII),
    /// or, for a record with an <c>ingest-source</c> header, its timestamp as the producer set it
    /// (docs/protocol.md, "What lands in Kafka"); otherwise null.
    /// </summary>
    private static long? ReceivedAt(Headers? headers, Timestamp timestamp)
    {
        if (headers is null)
        {
            return null;
        }

        if (headers.TryGetLastBytes(IngestHeaders.ReceivedAt, out var bytes))
        {
            return Utf8Parser.TryParse(bytes, out long value, out var consumed) && consumed == bytes.Length ? value : null;
        }

        return timestamp.Type == TimestampType.CreateTime && headers.TryGetLastBytes(IngestHeaders.Source, out _)
            ? timestamp.UnixTimestampMs
            : null;
    }

    /// <summary>The W3C <c>traceparent</c> header the gateway wrote while it traced, or null.</summary>
    private static string? TraceParent(Headers? headers) =>
        headers is not null && headers.TryGetLastBytes(IngestHeaders.TraceParent, out var bytes) ? Encoding.UTF8.GetString(bytes) : null;

    private enum StreamState
    {
        /// <summary>No subscribers: the consumer holds no partitions.</summary>
        Idle,

        /// <summary>Subscribers wait, and the consumer's last attempt to reach Kafka failed.</summary>
        Unreachable,

        /// <summary>The consumer is at the end of every partition and reading.</summary>
        Live,
    }

    /// <summary>An immutable snapshot of the subscribers, indexed for the consumer thread.</summary>
    private sealed class SubscriberSet
    {
        public static readonly SubscriberSet Empty = new([]);

        private SubscriberSet(StreamSubscriber[] all)
        {
            All = all;
            AnyShowTrace = all.Any(s => s.ShowTrace);
            Unfiltered = all.Where(s => s.ClientId is null).ToArray();
            ByClientId = all.Where(s => s.ClientId is not null)
                .GroupBy(s => s.ClientId!, StringComparer.Ordinal)
                .ToDictionary(g => g.Key, g => g.ToArray(), StringComparer.Ordinal);
        }

        public StreamSubscriber[] All { get; }

        public bool AnyShowTrace { get; }

        public StreamSubscriber[] Unfiltered { get; }

        public Dictionary<string, StreamSubscriber[]> ByClientId { get; }

        public SubscriberSet With(StreamSubscriber subscriber) => new([.. All, subscriber]);

        public SubscriberSet Without(StreamSubscriber subscriber) =>
            Array.IndexOf(All, subscriber) < 0 ? this : new(All.Where(s => s != subscriber).ToArray());
    }
}
