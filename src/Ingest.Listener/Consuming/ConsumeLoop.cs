using Confluent.Kafka;
using Ingest.Kafka;
using Ingest.Listener.Output;
using Ingest.Listener.Verification;

namespace Ingest.Listener.Consuming;

/// <summary>
/// Reads the topic on a dedicated thread (blocking <c>Consume</c> calls do not belong on the
/// thread pool) and hands each record to the formatter and the verifier. The same thread flushes
/// the output, redraws the status line and commits, so none of them needs a lock.
/// </summary>
/// <remarks>
/// At-least-once for a named group: an offset is stored only after its record was written to the
/// output buffer, and stored offsets are committed only right after that buffer was flushed:
/// periodically, when partitions are revoked in a rebalance, and on exit. A fresh group (no
/// <c>--group</c>) commits nothing: nobody will resume it.
/// </remarks>
internal sealed partial class ConsumeLoop
{
    /// <summary>Longest a Consume call blocks: bounds how late Ctrl-C, the timeout and the timers are seen.</summary>
    private static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(100);
    private static readonly TimeSpan FlushInterval = TimeSpan.FromMilliseconds(100);
    private static readonly TimeSpan StatusInterval = TimeSpan.FromMilliseconds(250);
    /// <summary>A JSON status is a line of its own (it is not redrawn): one a second.</summary>
    private static readonly TimeSpan JsonStatusInterval = TimeSpan.FromSeconds(1);
    /// <summary>Longest the end of a run waits for the brokers' high watermarks, over all partitions.</summary>
    private static readonly TimeSpan LagAtExitBudget = TimeSpan.FromSeconds(2);
    private static readonly TimeSpan CommitInterval = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan WatermarkTimeout = TimeSpan.FromSeconds(10);
    private static readonly TimeSpan RepeatedErrorInterval = TimeSpan.FromSeconds(10);

    private readonly ListenerOptions _options;
    private readonly ListenerConsole _console;
    private readonly EventFormatter? _formatter;
    private readonly EventVerifier? _verifier;
    /// <summary>
    /// The status to show: redrawn in place (text format, on a terminal) or one JSON line a second
    /// (json format); null for none. Unless the run is quiet, the lag per partition is also printed
    /// once at its end.
    /// </summary>
    private readonly StatusLine? _status;
    private readonly LagTracker? _lag;
    private readonly ListenerHooks? _hooks;
    private readonly TimeProvider _time;
    private readonly long _start;

    private long _count;
    private bool _unflushed;
    private Error? _fatal;
    private readonly Dictionary<ErrorCode, TimeSpan> _lastErrorAt = [];

    public ConsumeLoop(
        ListenerOptions options,
        ListenerConsole console,
        EventFormatter? formatter,
        EventVerifier? verifier,
        StatusLine? status,
        ListenerHooks? hooks,
        TimeProvider time)
    {
        _options = options;
        _console = console;
        _formatter = formatter;
        _verifier = verifier;
        _status = status;
        _lag = options.Quiet ? null : new LagTracker();
        _hooks = hooks;
        _time = time;
        _start = time.GetTimestamp();
        GroupId = options.GroupId ?? $"ingest-listener-{Guid.NewGuid():N}";
    }

    /// <summary>The group this run joins: the named one, or a fresh one.</summary>
    public string GroupId { get; }

    /// <summary>Starts the loop on its own thread; the task completes when the consumer is closed.</summary>
    public Task<ConsumeOutcome> RunAsync(CancellationToken cancellationToken)
    {
        var completion = new TaskCompletionSource<ConsumeOutcome>(TaskCreationOptions.RunContinuationsAsynchronously);
        var thread = new Thread(() =>
        {
            try
            {
                completion.SetResult(Run(cancellationToken));
            }
            catch (Exception e)
            {
                completion.SetException(e);
            }
        })
        {
            IsBackground = true,
            Name = "listener-consume",
        };
        thread.Start();
        return completion.Task;
    }

    private TimeSpan Elapsed => _time.GetElapsedTime(_start);

    private ConsumeOutcome Run(CancellationToken cancellationToken)
    {
        var config = KafkaClientDefaults.FastConsumer(_options.BootstrapServers, GroupId);
        config.ClientId = "ingest-listener";
        config.AutoOffsetReset = _options.FromBeginning ? AutoOffsetReset.Earliest : AutoOffsetReset.Latest;
        if (_options.GroupId is not null)
        {
            // The embedded broker holds every rebalance of a non-empty group for session.timeout.ms
            // minus 1 s (rdkafka_mock_cgrp.c, rd_kafka_mock_cgrp_classic_rebalance): with the 45 s
            // default a second listener, or a restart resuming the group, waited 44 s. 6 s is the
            // lowest a real broker accepts by default (group.min.session.timeout.ms); heartbeats
            // come from librdkafka's own thread, so a slow terminal does not cost the session.
            config.SessionTimeoutMs = 6_000;
            config.HeartbeatIntervalMs = 2_000;
        }

        using var consumer = new ConsumerBuilder<byte[]?, byte[]?>(config)
            .SetErrorHandler(OnError)
            // librdkafka's own log lines (%3|...|FAIL|...) would repeat the errors OnError prints.
            .SetLogHandler(static (_, _) => { })
            .SetPartitionsAssignedHandler(OnAssigned)
            .SetPartitionsRevokedHandler(OnRevoked)
            .SetPartitionsLostHandler(OnLost)
            .Build();
        consumer.Subscribe(_options.Topic);

        var timedOut = false;
        var nextFlush = FlushInterval;
        var nextStatus = TimeSpan.Zero;
        var nextCommit = CommitInterval;
        try
        {
            while (!cancellationToken.IsCancellationRequested && _fatal is null && !CountReached)
            {
                var elapsed = Elapsed;
                var wait = PollInterval;
                if (_options.Timeout is { } timeout)
                {
                    if (elapsed >= timeout)
                    {
                        timedOut = true;
                        break;
                    }

                    wait = TimeSpan.FromTicks(Math.Min(wait.Ticks, (timeout - elapsed).Ticks));
                }

                var record = Consume(consumer, wait);
                if (record is not null)
                {
                    Handle(consumer, record);
                }

                // Timers are checked per record and when idle (against the time read before the
                // Consume call: at most 100 ms stale), so output is flushed within ~100 ms and
                // never per line.
                if (_unflushed && (record is null || elapsed >= nextFlush))
                {
                    Flush();
                    nextFlush = elapsed + FlushInterval;
                }

                if (_status is not null && elapsed >= nextStatus)
                {
                    ShowStatus(consumer, elapsed);
                    nextStatus = elapsed + (_options.Format == EventFormat.Json ? JsonStatusInterval : StatusInterval);
                }

                if (_options.CommitsOffsets && elapsed >= nextCommit)
                {
                    Flush();
                    Commit(consumer);
                    nextCommit = elapsed + CommitInterval;
                }
            }
        }
        finally
        {
            Flush();
            _console.ClearStatus();
            if (_lag is not null && _fatal is null)
            {
                // Ctrl-C stops at once: the client's own values, no broker round trip.
                ShowLagAtExit(consumer, askBroker: !cancellationToken.IsCancellationRequested);
            }

            if (_options.CommitsOffsets && _fatal is null)
            {
                Commit(consumer);
            }

            // Close leaves the group at once (other members get the partitions without waiting
            // for session.timeout.ms) and runs the revoked handler on this thread.
            if (_fatal is null)
            {
                consumer.Close();
            }
        }

        var interrupted = cancellationToken.IsCancellationRequested && !CountReached;
        return new ConsumeOutcome(_count, timedOut, interrupted, _fatal);
    }

    private bool CountReached => _options.Count is { } count && _count >= count;

    private ConsumeResult<byte[]?, byte[]?>? Consume(IConsumer<byte[]?, byte[]?> consumer, TimeSpan wait)
    {
        try
        {
            return consumer.Consume(wait);
        }
        catch (ConsumeException e) when (!e.Error.IsFatal)
        {
            // E.g. the topic does not exist yet: the gateway creates it on first use. Keep waiting.
            Report(e.Error);
            return null;
        }
        catch (ConsumeException e)
        {
            _fatal = e.Error;
            return null;
        }
    }

    private void Handle(IConsumer<byte[]?, byte[]?> consumer, ConsumeResult<byte[]?, byte[]?> record)
    {
        if (_formatter is not null)
        {
            _formatter.Write(_console.Out, record);
            _unflushed = true;
        }

        if (_verifier is not null)
        {
            var key = record.Message.Key;
            _verifier.Observe(record.Partition.Value, record.Offset.Value, key, key is not null, record.Message.Value);
        }

        _count++;
        if (_options.CommitsOffsets)
        {
            consumer.StoreOffset(record);
        }

        _hooks?.EventHandled?.Invoke(_count);
    }

    private void Flush()
    {
        if (_unflushed)
        {
            _console.FlushEvents();
            _unflushed = false;
        }
    }

    private void Commit(IConsumer<byte[]?, byte[]?> consumer)
    {
        try
        {
            consumer.Commit();
        }
        catch (KafkaException e) when (e.Error.Code == ErrorCode.Local_NoOffset)
        {
            // Nothing printed since the last commit.
        }
        catch (KafkaException e) when (!e.Error.IsFatal)
        {
            Report(e.Error);
        }
    }

    private void ShowStatus(IConsumer<byte[]?, byte[]?> consumer, TimeSpan elapsed)
    {
        _status!.Sample(elapsed, _count);
        var lags = _lag!.Read(consumer);
        if (_options.Format == EventFormat.Json)
        {
            _console.WriteDiagnostic(_status.RenderJson(_time.GetUtcNow(), elapsed, _count, lags, final: false));
        }
        else
        {
            _console.ShowStatus(_status.Render(_count, lags));
        }

        _hooks?.StatusShown?.Invoke(lags);
    }

    /// <summary>
    /// The lag this run leaves behind, with high watermarks from the broker (exact at this moment)
    /// unless <paramref name="askBroker"/> is false: a JSON status line with <c>"final":true</c> in
    /// json format, else <c>lag at exit 0:0 1:12 (total 12)</c>.
    /// </summary>
    private void ShowLagAtExit(IConsumer<byte[]?, byte[]?> consumer, bool askBroker)
    {
        var lags = askBroker ? _lag!.ReadFromBroker(consumer, LagAtExitBudget) : _lag!.Read(consumer);
        if (_options.Format == EventFormat.Json)
        {
            var status = _status ?? new StatusLine();
            var elapsed = Elapsed;
            status.Sample(elapsed, _count);
            _console.WriteDiagnostic(status.RenderJson(_time.GetUtcNow(), elapsed, _count, lags, final: true));
        }
        else
        {
            _console.WriteDiagnostic(StatusLine.RenderAtExit(lags));
        }
    }
}
