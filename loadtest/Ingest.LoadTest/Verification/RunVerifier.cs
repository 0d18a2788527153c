using System.Text;
using Confluent.Kafka;
using Ingest.Kafka;
using Ingest.Kafka.Audit;
using Ingest.LoadTest.Engine;

namespace Ingest.LoadTest.Verification;

/// <summary>
/// Reads the events topic while a run goes on, from the high watermarks at its start, and counts
/// every record of this run (run id inside <c>msg</c>) per event: landed once, twice, never. Also
/// records send-to-landed latency: the time the record is read back minus the event's
/// <c>timestamp</c> (set by the client when it first built the message, millisecond resolution).
/// </summary>
internal sealed class RunVerifier : IDisposable
{
    private readonly string _bootstrapServers;
    private readonly string _topic;
    private readonly byte[] _runId;
    private readonly int[][] _landed;
    private readonly Thread _thread;
    private readonly CancellationTokenSource _stop = new();
    private readonly TaskCompletionSource _caughtUp = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly List<TopicPartitionOffset> _start;
    private readonly Dictionary<TopicPartition, long> _startOffsets;
    private readonly Dictionary<int, PartitionTally> _partitions;
    private volatile Dictionary<TopicPartition, long>? _targets;
    private long _records;
    private bool _disposed;

    public RunVerifier(string bootstrapServers, string topic, string runId, int clients, int eventsPerClient)
    {
        _bootstrapServers = bootstrapServers;
        _topic = topic;
        _runId = Encoding.UTF8.GetBytes(runId);
        _landed = new int[clients][];
        for (var i = 0; i < clients; i++)
        {
            _landed[i] = new int[eventsPerClient];
        }

        _startOffsets = HighWatermarks();
        _start = _startOffsets.Select(kv => new TopicPartitionOffset(kv.Key, kv.Value)).ToList();
        _partitions = _startOffsets.ToDictionary(kv => kv.Key.Partition.Value, kv => new PartitionTally(kv.Key.Partition.Value, kv.Value));
        _thread = new Thread(ConsumeLoop) { IsBackground = true, Name = "run-verifier" };
        _thread.Start();
    }

    /// <summary>Send-to-landed latency per event.</summary>
    public LatencyHistogram LandedLatency { get; } = new();

    /// <summary>Records of this run read so far (duplicates included).</summary>
    public long RecordsRead => Interlocked.Read(ref _records);

    /// <summary>Waits until the consumer has read up to the topic's current high watermarks.</summary>
    public async Task CatchUpAsync(TimeSpan timeout, CancellationToken cancellationToken)
    {
        var targets = HighWatermarks();
        foreach (var (partition, high) in targets)
        {
            if (_partitions.TryGetValue(partition.Partition.Value, out var tally))
            {
                tally.EndOffset = high;
                tally.LowAtEnd = LowWatermark(partition);
            }
        }

        _targets = targets;
        await _caughtUp.Task.WaitAsync(timeout, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Each partition over the run (final once the verifier is disposed).</summary>
    public IReadOnlyList<PartitionTally> Partitions => _partitions.Values.OrderBy(p => p.Partition).ToList();

    private long LowWatermark(TopicPartition partition)
    {
        using var consumer = new ConsumerBuilder<Ignore, Ignore>(new ConsumerConfig { BootstrapServers = _bootstrapServers, GroupId = "ingest-loadtest-watermarks" }).Build();
        return consumer.QueryWatermarkOffsets(partition, TimeSpan.FromSeconds(10)).Low.Value;
    }

    /// <summary>How often event (client, n) landed.</summary>
    public int LandedCount(int client, int n) => Volatile.Read(ref _landed[client][n]);

    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        _stop.Cancel();
        _thread.Join(TimeSpan.FromSeconds(10));
        _stop.Dispose();
    }

    private Dictionary<TopicPartition, long> HighWatermarks()
    {
        var partitions = TopicWatermarks.GetPartitions(_bootstrapServers, _topic, TimeSpan.FromSeconds(10));
        using var consumer = new ConsumerBuilder<Ignore, Ignore>(new ConsumerConfig { BootstrapServers = _bootstrapServers, GroupId = "ingest-loadtest-watermarks" }).Build();
        return partitions.ToDictionary(
            p => new TopicPartition(_topic, p),
            p => consumer.QueryWatermarkOffsets(new TopicPartition(_topic, p), TimeSpan.FromSeconds(10)).High.Value);
    }

    private void ConsumeLoop()
    {
        var config = KafkaClientDefaults.FastConsumer(_bootstrapServers, $"ingest-loadtest-{Guid.NewGuid():N}");
        using var consumer = new ConsumerBuilder<Ignore, byte[]>(config).SetLogHandler((_, _) => { }).Build();
        consumer.Assign(_start);
        var token = _stop.Token;
        try
        {
            while (!token.IsCancellationRequested)
            {
                var result = consumer.Consume(TimeSpan.FromMilliseconds(50));
                if (result?.Message?.Value is { } value)
                {
                    var ofTheRun = TestEvents.TryParse(value, _runId, out var key, out var timestampMs);
                    _partitions[result.Partition.Value].Read(result.Offset.Value, ofTheRun);
                    if (ofTheRun)
                    {
                        var (client, n) = TestEvents.Unpack(key);
                        if ((uint)client < (uint)_landed.Length && (uint)n < (uint)_landed[client].Length)
                        {
                            Interlocked.Increment(ref _landed[client][n]);
                        }

                        Interlocked.Increment(ref _records);
                        LandedLatency.Record((DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() - timestampMs) * 1000);
                    }
                }

                if (_targets is { } targets && targets.All(t => t.Value <= _startOffsets[t.Key] || consumer.Position(t.Key).Value >= t.Value))
                {
                    _caughtUp.TrySetResult();
                    _targets = null;
                }
            }
        }
        catch (Exception e) when (e is KafkaException or ObjectDisposedException)
        {
            _caughtUp.TrySetException(e);
        }
        finally
        {
            consumer.Close();
        }
    }
}
