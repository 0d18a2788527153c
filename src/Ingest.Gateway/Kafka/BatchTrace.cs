using System.Diagnostics;
using Ingest.Gateway.Diagnostics;
using Ingest.Gateway.Pipeline;

namespace Ingest.Gateway.Kafka;

/// <summary>
/// The activity of one Kafka batch (<c>ingest.kafka.batch</c>, kind Producer): one pass of the
/// producer, from the first message it takes off the channel until Kafka has resolved every record
/// of the pass. It links to the activities of the connections the records came from. Made only
/// while tracing listens; the producer's thread adds to it, delivery reports finish it.
/// </summary>
internal sealed class BatchTrace
{
    public const string ActivityName = "ingest.kafka.batch";

    private readonly Activity _activity;
    private readonly HashSet<TraceOrigin> _linked = [];
    private int _pending = 1; // the records of the pass, plus one for the pass itself until Seal
    private int _failed;

    private BatchTrace(Activity activity)
    {
        _activity = activity;
    }

    /// <summary>A batch activity, or null when nothing listens (or the sampler drops it).</summary>
    public static BatchTrace? TryStart()
    {
        if (!IngestMetrics.ActivitySource.HasListeners())
        {
            return null;
        }

        var previous = Activity.Current;
        var activity = IngestMetrics.ActivitySource.StartActivity(ActivityName, ActivityKind.Producer, parentContext: default);
        // A batch is no parent of what the producer's thread does next: it ends on another thread.
        Activity.Current = previous;
        if (activity is null)
        {
            return null;
        }

        activity.SetTag("messaging.system", "kafka");
        activity.SetTag("messaging.operation.type", "send");
        return new BatchTrace(activity);
    }

    /// <summary>Producer thread: the item's records are part of this batch.</summary>
    public void Add(PipelineItem item)
    {
        item.Batch = this;
        Interlocked.Add(ref _pending, item.RecordCount);
        if (item.Source.Trace is { } origin && _linked.Add(origin))
        {
            _activity.AddLink(new ActivityLink(origin.Context));
        }
    }

    /// <summary>Producer thread: the pass is over; the activity ends with the last delivery report.</summary>
    public void Seal(int messages, long records)
    {
        _activity.SetTag("messaging.batch.message_count", records);
        _activity.SetTag("ingest.messages", messages);
        _activity.SetTag("ingest.connections", _linked.Count);
        Resolved(failed: false);
    }

    /// <summary>Any thread: <paramref name="records"/> records of the batch were resolved by Kafka (a transaction resolves a message's at once).</summary>
    public void Resolved(bool failed, int records = 1)
    {
        if (failed)
        {
            Interlocked.Add(ref _failed, records);
        }

        if (Interlocked.Add(ref _pending, -records) != 0)
        {
            return;
        }

        if (Volatile.Read(ref _failed) is var count and > 0)
        {
            _activity.SetStatus(ActivityStatusCode.Error, $"{count} records were not written");
        }

        _activity.Stop();
    }
}
