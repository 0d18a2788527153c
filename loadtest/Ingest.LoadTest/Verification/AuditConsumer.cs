using System.Diagnostics;
using System.Text;
using Confluent.Kafka;
using Ingest.Kafka;
using Ingest.Kafka.Audit;
using Ingest.LoadTest.Engine;

namespace Ingest.LoadTest.Verification;

/// <summary>
/// Reads a run's records while it goes on (from the high watermarks at its start), as
/// <see cref="RunVerifier"/> does, but counts into ranges (<see cref="LandedEvents"/>) rather than
/// a slot per event, so that a run of hundreds of millions of events stays small; counts every
/// record per partition (first and last offset of the run, records of other writers); and notes
/// when each extra copy of an event was read, so that a duplicate can be placed in the fault that
/// caused it. Consume errors (a broker down) are counted and the loop goes on.
/// </summary>
internal sealed class AuditConsumer : IDisposable
{
    /// <summary>Extra copies whose read time is kept; beyond it they are only counted.</summary>
    internal const int MaxDuplicateTimes = 1_000_000;

    private readonly string _bootstrapServers;
    private readonly string _topic;
    private readonly byte[] _runId;
    private readonly LandedEvents[] _landed;
    private readonly Dictionary<int, PartitionTally> _partitions;
    private readonly List<DuplicateCopy> _duplicates = [];
    private readonly long _started;
    private readonly Thread _thread;
    private readonly CancellationTokenSource _stop = new();
    private readonly TaskCompletionSource _caughtUp = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private volatile Dictionary<int, long>? _targets;
    private long _records;
    private long _consumeErrors;

    /// <param name="bootstrapServers">Kafka bootstrap servers.</param>
    /// <param name="topic">The run's topic.</param>
    /// <param name="runId">The run id inside each event's msg.</param>
    /// <param name="clients">Clients of the run, numbered from 0.</param>
    /// <param name="started">The run's start (<see cref="Stopwatch.GetTimestamp"/>), from which read times are counted.</param>
    public AuditConsumer(string bootstrapServers, string topic, string runId, int clients, long started)
    {
        _bootstrapServers = bootstrapServers;
        _topic = topic;
        _runId = Encoding.UTF8.GetBytes(runId);
        _started = started;
        _landed = Enumerable.Range(0, clients).Select(_ => new LandedEvents()).ToArray();
        _partitions = Watermarks().ToDictionary(w => w.Key, w => new PartitionTally(w.Key, w.Value.High));
        _thread = new Thread(ConsumeLoop) { IsBackground = true, Name = "audit-consumer" };
        _thread.Start();
    }

    /// <summary>Records of the run read so far (duplicates included).</summary>
    public long RecordsRead => Interlocked.Read(ref _records);

    public long ConsumeErrors => Interlocked.Read(ref _consumeErrors);

    /// <summary>
    /// Reads the high and low watermarks now (the run's end), waits until the consumer has read up
    /// to the high ones, and stops it. Afterwards <see cref="Landed"/>, <see cref="Partitions"/>
    /// and <see cref="Duplicates"/> are final.
    /// </summary>
    public async Task FinishAsync(TimeSpan timeout, CancellationToken cancellationToken)
    {
        var end = Watermarks();
        foreach (var (partition, offsets) in end)
        {
            if (_partitions.TryGetValue(partition, out var tally))
            {
                tally.EndOffset = offsets.High;
                tally.LowAtEnd = offsets.Low;
            }
        }

        _targets = end.ToDictionary(e => e.Key, e => e.Value.High);
        try
        {
            await _caughtUp.Task.WaitAsync(timeout, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            Stop();
        }
    }

    /// <summary>What landed, per client index.</summary>
    public IReadOnlyList<LandedEvents> Landed => _landed;

    public IReadOnlyList<PartitionTally> Partitions => _partitions.Values.OrderBy(p => p.Partition).ToList();

    /// <summary>Extra copies and when they were read (the first <see cref="MaxDuplicateTimes"/>).</summary>
    public IReadOnlyList<DuplicateCopy> Duplicates => _duplicates;

    public void Dispose()
    {
        Stop();
        _stop.Dispose();
    }

    private void Stop()
    {
        if (!_stop.IsCancellationRequested)
        {
            _stop.Cancel();
        }

        _thread.Join(TimeSpan.FromSeconds(10));
    }

    private Dictionary<int, (long Low, long High)> Watermarks()
    {
        var partitions = TopicWatermarks.GetPartitions(_bootstrapServers, _topic, TimeSpan.FromSeconds(10));
        using var consumer = new ConsumerBuilder<Ignore, Ignore>(new ConsumerConfig { BootstrapServers = _bootstrapServers, GroupId = "ingest-loadtest-watermarks" }).Build();
        return partitions.ToDictionary(p => p, p =>
        {
            var offsets = consumer.QueryWatermarkOffsets(new TopicPartition(_topic, p), TimeSpan.FromSeconds(30));
            return (offsets.Low.Value, offsets.High.Value);
        });
    }

    private void ConsumeLoop()
    {
        var config = KafkaClientDefaults.FastConsumer(_bootstrapServers, $"ingest-loadtest-audit-{Guid.NewGuid():N}");
        using var consumer = new ConsumerBuilder<Ignore, byte[]>(config).SetLogHandler((_, _) => { }).SetErrorHandler((_, _) => { }).Build();
        consumer.Assign(_partitions.Values.Select(p => new TopicPartitionOffset(_topic, p.Partition, p.StartOffset)));
        var token = _stop.Token;
        try
        {
            while (!token.IsCancellationRequested)
            {
                ConsumeResult<Ignore, byte[]>? result;
                try
                {
                    result = consumer.Consume(TimeSpan.FromMilliseconds(50));
                }
                catch (ConsumeException)
                {
                    Interlocked.Increment(ref _consumeErrors);
                    continue;
                }

                if (result?.Message?.Value is { } value)
                {
                    var ofTheRun = TestEvents.TryParse(value, _runId, out var key, out _);
                    _partitions[result.Partition.Value].Read(result.Offset.Value, ofTheRun);
                    if (ofTheRun)
                    {
                        var (client, n) = TestEvents.Unpack(key);
                        if ((uint)client < (uint)_landed.Length && _landed[client].Add(n) > 1 && _duplicates.Count < MaxDuplicateTimes)
                        {
                            _duplicates.Add(new DuplicateCopy(client, n, result.Partition.Value, result.Offset.Value, Stopwatch.GetElapsedTime(_started).TotalSeconds));
                        }

                        Interlocked.Increment(ref _records);
                    }
                }

                if (_targets is { } targets && targets.All(t => t.Value <= _partitions[t.Key].StartOffset || consumer.Position(new TopicPartition(_topic, t.Key)).Value >= t.Value))
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

/// <summary>An extra copy of event (client, n), where it is and when it was read (seconds from the run's start).</summary>
internal sealed record DuplicateCopy(int Client, int N, int Partition, long Offset, double ReadAtSeconds);
