using System.Diagnostics.Metrics;
using System.Text;
using Confluent.Kafka;
using Ingest.Contracts;
using Ingest.Gateway.Diagnostics;
using Ingest.Gateway.Configuration;
using Ingest.Gateway.Streaming;
using Microsoft.Extensions.Options;

namespace Ingest.UnitTests.Streaming;

/// <summary>Per-subscriber queues (drop accounting) and the hub's routing and readiness.</summary>
public sealed class StreamHubTests : IDisposable
{
    private readonly TestMeterFactory _meters = new();
    private readonly IngestMetrics _metrics;

    public StreamHubTests() => _metrics = new IngestMetrics(_meters);

    [Fact]
    public void Subscriber_FullQueue_DropsAndCounts_WithoutWaiting()
    {
        var subscriber = new StreamSubscriber(null, capacity: 3);

        var accepted = Enumerable.Range(0, 10).Count(i => subscriber.TryEnqueue(Frame(i)));

        Assert.Equal(3, accepted);
        Assert.Equal(7, subscriber.Dropped);
    }

    [Fact]
    public void Subscriber_DropsAreHandedOverWithTheNextFrameThatFits_ExactlyOnce()
    {
        var subscriber = new StreamSubscriber(null, capacity: 2);
        subscriber.TryEnqueue(Frame(0));
        subscriber.TryEnqueue(Frame(1));
        subscriber.TryEnqueue(Frame(2)); // dropped
        subscriber.TryEnqueue(Frame(3)); // dropped
        Assert.True(subscriber.TryDequeue(out var first));

        Assert.True(subscriber.TryEnqueue(Frame(4)));

        Assert.Equal(0, first.DroppedBefore);
        Assert.True(subscriber.TryDequeue(out var second));
        Assert.Equal(0, second.DroppedBefore);
        Assert.True(subscriber.TryDequeue(out var fourth));
        Assert.Equal("4", Encoding.UTF8.GetString(fourth.Frame));
        Assert.Equal(2, fourth.DroppedBefore);
        Assert.Equal(0, subscriber.TakeUndeclaredDrops());
        Assert.Equal(2, subscriber.Dropped);
    }

    [Fact]
    public void Subscriber_DropsAfterTheLastFrame_AreTakenOnceByTheWriter()
    {
        var subscriber = new StreamSubscriber(null, capacity: 1);
        subscriber.TryEnqueue(Frame(0));
        for (var i = 1; i <= 5; i++)
        {
            subscriber.TryEnqueue(Frame(i));
        }

        Assert.True(subscriber.TryDequeue(out _));

        Assert.Equal(5, subscriber.TakeUndeclaredDrops());
        Assert.Equal(0, subscriber.TakeUndeclaredDrops());
        Assert.True(subscriber.TryEnqueue(Frame(6)));
        Assert.True(subscriber.TryDequeue(out var next));
        Assert.Equal(0, next.DroppedBefore);
    }

    [Fact]
    public void Subscriber_ManyOverflows_DeliveredPlusDeclaredDropsEqualsOffered()
    {
        var subscriber = new StreamSubscriber(null, capacity: 7);
        var random = new Random(42);
        long delivered = 0, declared = 0;
        const int offered = 100_000;
        for (var i = 0; i < offered; i++)
        {
            subscriber.TryEnqueue(Frame(i));
            // A reader that sometimes keeps up and sometimes does not.
            for (var reads = random.Next(3); reads > 0 && subscriber.TryDequeue(out var item); reads--)
            {
                delivered++;
                declared += item.DroppedBefore;
            }
        }

        while (subscriber.TryDequeue(out var item))
        {
            delivered++;
            declared += item.DroppedBefore;
        }

        declared += subscriber.TakeUndeclaredDrops();
        Assert.Equal(offered, delivered + declared);
        Assert.Equal(subscriber.Dropped, declared);
        Assert.True(declared > 0);
    }

    [Fact]
    public void Publish_RoutesByClientId_UnfilteredGetAll()
    {
        using var hub = Hub();
        var alpha = hub.TrySubscribe("alpha")!;
        var alpha2 = hub.TrySubscribe("alpha")!;
        var beta = hub.TrySubscribe("beta")!;
        var all = hub.TrySubscribe(null)!;

        hub.Publish(Record("alpha", 0));
        hub.Publish(Record("beta", 1));
        hub.Publish(Record("gamma", 2));
        hub.Publish(Record(null, 3));
        hub.Publish(Record("Alpha", 4)); // exact match only

        Assert.Equal([0L], Offsets(alpha));
        Assert.Equal([0L], Offsets(alpha2));
        Assert.Equal([1L], Offsets(beta));
        Assert.Equal([0L, 1, 2, 3, 4], Offsets(all));
    }

    [Theory]
    [InlineData("ingest-source", TimestampType.CreateTime, "1700000000000")] // the default record: its timestamp
    [InlineData("ingest-source", TimestampType.LogAppendTime, "null")] // the broker's time, not the gateway's
    [InlineData("other", TimestampType.CreateTime, "null")] // not the gateway's record
    [InlineData(null, TimestampType.CreateTime, "null")] // no headers (Ingest:Kafka:SourceHeaders=None)
    public void ReceivedAt_IsTheTimestamp_OfARecordWithAnIngestSourceHeader(string? header, TimestampType type, string expected)
    {
        using var hub = Hub(queueCapacity: 4);
        var subscriber = hub.TrySubscribe(null)!;
        var record = Record("c", 1);
        record.Message.Timestamp = new Timestamp(1700000000000, type);
        if (header is not null)
        {
            record.Message.Headers = new Headers { { header, "0HNABC gw 1"u8.ToArray() } };
        }

        hub.Publish(record);

        Assert.True(subscriber.TryDequeue(out var item));
        Assert.Contains($"\"receivedAt\":{expected},", Encoding.UTF8.GetString(item.Frame), StringComparison.Ordinal);
    }

    [Fact]
    public void Publish_FormatsOnce_ReadsReceivedAtHeader_AndCountsDrops()
    {
        using var hub = Hub(queueCapacity: 1);
        var first = hub.TrySubscribe(null)!;
        var second = hub.TrySubscribe(null)!;
        var record = Record("c", 9);
        record.Message.Headers = new Headers { { IngestHeaders.ReceivedAt, "1700000000999"u8.ToArray() } };

        hub.Publish(record);
        hub.Publish(Record("c", 10));

        Assert.True(first.TryDequeue(out var a));
        Assert.True(second.TryDequeue(out var b));
        Assert.Same(a.Frame, b.Frame);
        Assert.Contains("\"receivedAt\":1700000000999,", Encoding.UTF8.GetString(a.Frame), StringComparison.Ordinal);
        Assert.Equal(2, _metrics.Snapshot(0, 0).StreamDropped);
    }

    [Fact]
    public void Publish_ShowTrace_AddsTheRecordsTraceParent_OnlyForThoseWhoAsked()
    {
        const string TraceParent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        using var hub = Hub();
        var plain = hub.TrySubscribe(null)!;
        var traced = hub.TrySubscribe("c", showTrace: true)!;
        var record = Record("c", 7);
        record.Message.Headers = new Headers { { IngestHeaders.TraceParent, Encoding.ASCII.GetBytes(TraceParent) } };

        hub.Publish(record);
        hub.Publish(Record("c", 8)); // written by a gateway that was not tracing

        Assert.True(plain.TryDequeue(out var plainFrame));
        Assert.DoesNotContain("traceparent", Encoding.UTF8.GetString(plainFrame.Frame), StringComparison.Ordinal);
        Assert.True(traced.TryDequeue(out var tracedFrame));
        Assert.Contains($",\"clientId\":\"c\",\"traceparent\":\"{TraceParent}\",\"event\":{{\"n\":7}}}}", Encoding.UTF8.GetString(tracedFrame.Frame), StringComparison.Ordinal);
        Assert.True(traced.TryDequeue(out var untraced));
        Assert.Contains(",\"traceparent\":null,", Encoding.UTF8.GetString(untraced.Frame), StringComparison.Ordinal);
    }

    [Fact]
    public void Subscribe_OverTheLimit_IsRefused_UntilOneLeaves()
    {
        using var hub = Hub(maxSubscribers: 2);
        var first = hub.TrySubscribe(null)!;
        hub.TrySubscribe("x");

        Assert.Null(hub.TrySubscribe(null));
        Assert.Equal(2, _metrics.Snapshot(0, 0).StreamSubscribers);
        hub.Unsubscribe(first);
        hub.Unsubscribe(first); // twice: counted once
        Assert.Equal(1, _metrics.Snapshot(0, 0).StreamSubscribers);
        Assert.NotNull(hub.TrySubscribe(null));
    }

    [Fact]
    public async Task Ready_WaitsForTheConsumer_ThenIsImmediate_AndIdleStartsOver()
    {
        using var hub = Hub();
        using var stopped = new CancellationTokenSource();
        stopped.Cancel();
        Assert.False(hub.WaitForSubscribers(stopped.Token));

        var first = hub.TrySubscribe(null)!;
        Assert.False(first.Ready.IsCompleted);
        Assert.True(hub.WaitForSubscribers(CancellationToken.None));
        hub.SetLive(true);
        Assert.True(first.Ready.IsCompletedSuccessfully);
        Assert.True(await first.Ready);

        var second = hub.TrySubscribe("c")!;
        Assert.True(second.Ready.IsCompletedSuccessfully);
        Assert.True(await second.Ready);
        Assert.False(hub.TryGoIdle());

        hub.Unsubscribe(first);
        hub.Unsubscribe(second);
        Assert.True(hub.TryGoIdle());
        Assert.False(hub.IsLive);
        var third = hub.TrySubscribe(null)!;
        Assert.False(third.Ready.IsCompleted);

        hub.SetLive(false);
        Assert.True(third.Ready.IsCompletedSuccessfully);
        Assert.False(await third.Ready);
        var fourth = hub.TrySubscribe(null)!;
        Assert.True(fourth.Ready.IsCompletedSuccessfully);
        Assert.False(await fourth.Ready);
    }

    public void Dispose() => _meters.Dispose();

    private StreamHub Hub(int queueCapacity = 16, int maxSubscribers = 100) =>
        new(Options.Create(new IngestOptions { Stream = new StreamOptions { QueueCapacity = queueCapacity, MaxSubscribers = maxSubscribers } }), _metrics);

    private static byte[] Frame(int n) => Encoding.UTF8.GetBytes(n.ToString(System.Globalization.CultureInfo.InvariantCulture));

    private static ConsumeResult<byte[], byte[]> Record(string? key, long offset) => new()
    {
        Topic = "events",
        Partition = new Partition(0),
        Offset = new Offset(offset),
        Message = new Message<byte[], byte[]>
        {
            Key = key is null ? null! : Encoding.UTF8.GetBytes(key),
            Value = Encoding.UTF8.GetBytes($"{{\"n\":{offset}}}"),
            Timestamp = new Timestamp(1700000000000, TimestampType.CreateTime),
        },
    };

    private static List<long> Offsets(StreamSubscriber subscriber)
    {
        var offsets = new List<long>();
        while (subscriber.TryDequeue(out var item))
        {
            var text = Encoding.UTF8.GetString(item.Frame);
            offsets.Add(long.Parse(text["id: 0:".Length..text.IndexOf('\n', StringComparison.Ordinal)], System.Globalization.CultureInfo.InvariantCulture));
        }

        return offsets;
    }

    private sealed class TestMeterFactory : IMeterFactory
    {
        private readonly List<Meter> _meters = [];

        public Meter Create(MeterOptions options)
        {
            var meter = new Meter(options);
            _meters.Add(meter);
            return meter;
        }

        public void Dispose() => _meters.ForEach(m => m.Dispose());
    }
}
