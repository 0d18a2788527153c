using System.Runtime.InteropServices;
using Confluent.Kafka;
using Ingest.Gateway.Configuration;
using Ingest.Gateway.Diagnostics;
using Ingest.Gateway.Lifecycle;
using Ingest.Gateway.Pipeline;
using Ingest.Kafka.Native;
using Microsoft.Extensions.Options;

namespace Ingest.Gateway.Kafka;

/// <summary>
/// The one Kafka producer of the gateway: drains <see cref="EventChannel"/> in batches into
/// librdkafka on its own thread (<see cref="NativeProducer"/>: one <c>rd_kafka_produceva</c> per
/// record, no managed object per record), and turns delivery reports into each item's outcome (and
/// the delivery and dead-letter counts). Idempotence and <c>acks=all</c> are forced by
/// <see cref="KafkaClientConfigs"/>, whatever the configuration says.
/// </summary>
/// <remarks>
/// The thread owns the librdkafka handle: it produces, polls when librdkafka's queue is full,
/// flushes at shutdown within the <see cref="ShutdownBudget"/>, and disposes the handle itself, so
/// that no other thread can destroy it while it is in use.
/// </remarks>
[System.Diagnostics.CodeAnalysis.SuppressMessage("Design", "CA1001", Justification = "The producer thread owns the handle and disposes it when it ends (see remarks).")]
internal sealed partial class KafkaBatchProducer(
    EventChannel channel,
    KafkaClientConfigs configs,
    RecordFactory records,
    KafkaHealth health,
    IngestMetrics metrics,
    KafkaStatistics statistics,
    TimeProvider time,
    ShutdownBudget shutdown,
    IOptions<IngestOptions> options,
    IHostApplicationLifetime lifetime,
    ILogger<KafkaBatchProducer> logger) : IHostedService, INativeProducerEvents
{
    /// <summary>Records taken from the channel before looking at it again; bounds one pass of the loop.</summary>
    private const int MaxBatch = 1024;

    /// <summary>A pass that took fewer messages than this waits <see cref="CoalesceDelay"/> before the next.</summary>
    private const int CoalesceBelow = 32;

    /// <summary>Well under <c>linger.ms</c> (5 by default), so it adds next to nothing to latency.</summary>
    private static readonly TimeSpan CoalesceDelay = TimeSpan.FromMilliseconds(1);

    /// <summary>How long one wait for delivery reports lasts while records are in flight and the channel is empty.</summary>
    private static readonly TimeSpan ReportWait = TimeSpan.FromMilliseconds(1);

    /// <summary>How long the idle thread waits for the channel before it serves librdkafka's errors and statistics.</summary>
    private static readonly TimeSpan IdlePoll = TimeSpan.FromMilliseconds(100);

    /// <summary>How long one call of a commit or an abort waits before the shutdown budget is looked at again.</summary>
    private static readonly TimeSpan CommitSlice = TimeSpan.FromMilliseconds(500);

    /// <summary>The least time between two attempts of a commit or an abort that failed at once.</summary>
    private static readonly TimeSpan RetryBackoff = TimeSpan.FromMilliseconds(20);

    /// <summary>How long one poll waits for room while librdkafka's queue is full.</summary>
    private static readonly TimeSpan QueueFullPoll = TimeSpan.FromMilliseconds(50);

    private static readonly Error NoError = new(ErrorCode.NoError);

    private readonly TaskCompletionSource _stopped = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly bool _coalesce = options.Value.Kafka.LingerMs > 0; // linger.ms=0 asks for every message at once
    private NativeProducer? _producer;
    private Task<bool>? _channelWait; // the idle thread's wait for the channel, kept across its polls
    private long _inFlight; // records handed to ProduceOne and not yet reported
    private long _abandoned; // events failed because the shutdown budget ran out before librdkafka had room
    private readonly FailureLog _deadLetterFailures = new(time);

    // The transactional mode (Ingest:Kafka:Delivery=Transactional): the producer thread's own state.
    private readonly bool _transactional = options.Value.Kafka.Delivery == KafkaDelivery.Transactional;
    private readonly List<PipelineItem> _transaction = new(MaxBatch); // the messages of the open transaction
    private Error? _produceFailure; // why a record of the open transaction could not even be queued: it must abort
    private Error? _fatal; // once set, messages are answered delivery_failed without being produced
    private long _uncommittedEvents; // events of the open transaction
    private long _inDoubtEvents; // events of transactions whose commit did not end (a fatal error, the shutdown budget): never answered
    private readonly FailureLog _aborts = new(time);

    public Task StartAsync(CancellationToken cancellationToken)
    {
        var config = configs.Producer();
        _producer = new NativeProducer(config, this, pollThread: false); // Run serves the reports
        if (_transactional)
        {
            InitTransactions(_producer, config.TransactionalId);
            Log.TransactionalProducerStarted(logger, _producer.Name, config.TransactionalId);
        }
        else
        {
            Log.ProducerStarted(logger, _producer.Name);
        }

        new Thread(Run) { IsBackground = true, Name = "kafka-producer" }.Start();
        return Task.CompletedTask;
    }

    /// <summary>
    /// Registers the transactional id with its coordinator, which fences any older producer of the
    /// same id and aborts its open transaction. Kafka must answer within
    /// <c>Ingest:Kafka:TransactionInitTimeoutMs</c>, or the gateway does not start.
    /// </summary>
    private void InitTransactions(NativeProducer producer, string transactionalId)
    {
        var timeout = TimeSpan.FromMilliseconds(options.Value.Kafka.TransactionInitTimeoutMs);
        try
        {
            producer.InitTransactions(timeout);
        }
        catch (KafkaException e)
        {
            Log.TransactionsUnavailable(logger, transactionalId, timeout.TotalMilliseconds, e.Error.Code, e.Error.Reason);
            producer.Dispose();
            _stopped.TrySetResult(); // no thread will run: a StopAsync has nothing to wait for
            throw new KafkaStartupException(
                $"Kafka transactions could not start for transactional id '{transactionalId}' within Ingest:Kafka:TransactionInitTimeoutMs ({timeout.TotalMilliseconds} ms): {e.Error.Code}: {e.Error.Reason}",
                e);
        }
    }

    /// <summary>
    /// By now the connections have drained: close the channel and let the thread produce what is
    /// left, flush and dispose, within the shutdown budget.
    /// </summary>
    public async Task StopAsync(CancellationToken cancellationToken)
    {
        shutdown.Begin();
        channel.Complete();
        await _stopped.Task.WaitAsync(cancellationToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
    }

    private void Run()
    {
        var producer = _producer!;
        try
        {
            var reader = channel.Reader;
            while (WaitForWork(producer, reader))
            {
                var taken = 0;
                var records = 0L;
                BatchTrace? batch = null;
                var began = 0L;
                while (taken < MaxBatch && reader.TryRead(out var item))
                {
                    item.TakenAt = time.GetTimestamp();
                    if (taken == 0)
                    {
                        batch = BatchTrace.TryStart();
                        began = item.TakenAt;
                        if (_transactional)
                        {
                            BeginTransaction(producer);
                        }
                    }

                    batch?.Add(item);
                    if (_transactional)
                    {
                        ProduceInTransaction(producer, item);
                    }
                    else
                    {
                        Produce(producer, item);
                    }

                    records += item.RecordCount;
                    taken++;
                }

                batch?.Seal(taken, records);
                if (taken > 0)
                {
                    metrics.BatchProduced(records);
                    if (_transactional)
                    {
                        // The thread waits for the commit: meanwhile the channel fills, and once it
                        // is full the connections stop reading their sockets.
                        EndTransaction(producer, began);
                    }
                }

                // The delivery reports are served here, between batches, not on a thread of their own:
                // librdkafka then frees each record on the thread that made it, which glibc's
                // allocator does at a fraction of the cost of a free from another thread.
                if (taken < CoalesceBelow && _coalesce)
                {
                    // A small batch: let the next one build up for a moment (librdkafka lingers longer
                    // anyway) instead of waking for every message, serving reports meanwhile.
                    producer.Poll(CoalesceDelay);
                }
                else
                {
                    producer.Poll(TimeSpan.Zero);
                }
            }

            var undelivered = 0L;
            if (_transactional)
            {
                // Every transaction ended in its pass (or was left when the budget ran out).
                undelivered = _inDoubtEvents + _uncommittedEvents + Interlocked.Read(ref _abandoned);
            }
            else
            {
                _ = producer.Flush(shutdown.Remaining);
                undelivered = Interlocked.Read(ref _inFlight) + Interlocked.Read(ref _abandoned);
            }

            if (undelivered > 0)
            {
                Log.EventsNotDelivered(logger, undelivered, shutdown.Total.TotalMilliseconds);
                Environment.ExitCode = 1;
            }

            Log.ProducerStopped(logger);
        }
        catch (Exception e)
        {
            Log.ProducerCrashed(logger, e);
            Environment.ExitCode = 1;
            lifetime.StopApplication();
        }
        finally
        {
            producer.Dispose();
            _stopped.TrySetResult();
        }
    }

    /// <summary>
    /// Blocks this thread until an item is there (true) or the channel is completed and empty
    /// (false), serving librdkafka's delivery reports, errors and statistics meanwhile: as they come
    /// while anything is in librdkafka's queues, at least every <see cref="IdlePoll"/> otherwise.
    /// </summary>
    private bool WaitForWork(NativeProducer producer, System.Threading.Channels.ChannelReader<PipelineItem> reader)
    {
        while (!reader.TryPeek(out _))
        {
            if (reader.Completion.IsCompleted)
            {
                return false; // shutting down: what is in flight is the final flush's, within the budget
            }

            if (producer.QueueLength > 0)
            {
                producer.Poll(ReportWait);
                continue;
            }

            _channelWait ??= reader.WaitToReadAsync(CancellationToken.None).AsTask();
            if (!_channelWait.Wait(IdlePoll))
            {
                producer.Poll(TimeSpan.Zero);
                continue;
            }

            var more = _channelWait.Result;
            _channelWait = null;
            if (!more)
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>
    /// Queues the item's records, timestamped with when the message was read. Their delivery
    /// reports find the item through one <see cref="GCHandle"/> (the records' opaque), freed with
    /// the last report.
    /// </summary>
    private void Produce(NativeProducer producer, PipelineItem item)
    {
        var topic = records.TopicOf(item);
        var headers = records.HeadersOf(item);
        var handle = GCHandle.ToIntPtr(GCHandle.Alloc(item));
        item.DeliveryHandle = handle;
        if (item.Kind == PipelineItemKind.DeadLetter)
        {
            ProduceOne(producer, item, topic, default, item.Payload, headers, handle);
            return;
        }

        foreach (var record in item.Events)
        {
            ProduceOne(producer, item, topic, record.Key, record.Value, headers, handle);
        }
    }

    private void ProduceOne(NativeProducer producer, PipelineItem item, string topic, ReadOnlySpan<byte> key, ReadOnlySpan<byte> value, Headers? headers, nint handle)
    {
        Interlocked.Increment(ref _inFlight);
        var error = ProduceWithRoom(producer, topic, key, value, headers, item.ReceivedAtMs, handle);
        if (error == ErrorCode.NoError)
        {
            return;
        }

        // Kept in flight until Delivered counts it out: a failure is an outcome too.
        if (error == ErrorCode.Local_QueueFull && item.Kind == PipelineItemKind.Events)
        {
            Interlocked.Increment(ref _abandoned);
        }

        Delivered(item, new Error(error));
    }

    /// <summary>
    /// Queues one record; while librdkafka's queue is full, waits for delivery reports to make room
    /// (the channel fills meanwhile, and the connections stop reading their sockets), until the
    /// shutdown's final deadline. Returns librdkafka's answer: <see cref="ErrorCode.NoError"/> when queued.
    /// </summary>
    private ErrorCode ProduceWithRoom(NativeProducer producer, string topic, ReadOnlySpan<byte> key, ReadOnlySpan<byte> value, Headers? headers, long timestampMs, nint opaque)
    {
        while (true)
        {
            var error = producer.Produce(topic, key, value, headers, opaque, timestampMs);
            if (error != ErrorCode.Local_QueueFull || shutdown.Final.IsCancellationRequested)
            {
                return error;
            }

            producer.Poll(QueueFullPoll);
        }
    }

    /// <summary>A record's delivery report, on the producer thread (a poll, a flush or a commit).</summary>
    void INativeProducerEvents.OnDelivery(nint opaque, ErrorCode error)
    {
        if (opaque == 0)
        {
            // A transactional record: its report changes nothing. A failed record makes the
            // transaction abortable, which its commit reports with the cause, and a commit succeeds
            // only once every record is written.
            return;
        }

        var item = (PipelineItem)GCHandle.FromIntPtr(opaque).Target!;
        Delivered(item, error == ErrorCode.NoError ? NoError : new Error(error));
    }

    void INativeProducerEvents.OnError(Error error) => OnError(error);

    void INativeProducerEvents.OnStatistics(string json) => statistics.Received(json);

    private void Delivered(PipelineItem item, Error error)
    {
        Interlocked.Decrement(ref _inFlight);
        CountOutcome(item, error.IsError ? error : null, records: 1);
        (item.Batch as BatchTrace)?.Resolved(error.IsError);
        if (item.Complete(error.IsError ? $"{error.Code}: {error.Reason}" : null))
        {
            CountAnswer(item);
            GCHandle.FromIntPtr(item.DeliveryHandle).Free();
            metrics.MessageProduced(time.GetElapsedTime(item.TakenAt));
        }
    }

    /// <summary>
    /// Counts the outcome of <paramref name="records"/> of the item's records (<paramref name="failure"/>
    /// null: written): dead letters written or failed (a failure logged at most once per interval),
    /// or events delivered.
    /// </summary>
    private void CountOutcome(PipelineItem item, Error? failure, int records)
    {
        if (item.Kind == PipelineItemKind.DeadLetter)
        {
            metrics.DeadLetterWritten(failed: failure is not null);
            if (failure is not null && _deadLetterFailures.Take() is { } count)
            {
                Log.DeadLettersFailing(logger, count, failure.Code, failure.Reason);
            }
        }
        else if (failure is null)
        {
            metrics.EventsDelivered(records);
        }
    }

    /// <summary>Once per message, when it is answered: counts a message answered <c>delivery_failed</c> (however many of its records failed).</summary>
    private void CountAnswer(PipelineItem item)
    {
        if (item.Kind == PipelineItemKind.Events && item.Failed)
        {
            metrics.DeliveryFailed();
        }
    }

    private void BeginTransaction(NativeProducer producer)
    {
        _transaction.Clear();
        _produceFailure = null;
        if (_fatal is not null)
        {
            return;
        }

        try
        {
            producer.BeginTransaction();
        }
        catch (KafkaException e)
        {
            // Only a fatal error leaves the producer unable to begin (the previous transaction always ended).
            Fatal(e.Error);
        }
    }

    /// <summary>
    /// Queues the item's records in the open transaction. Their delivery reports only note the first
    /// error: the item is answered once the transaction commits or aborts (<see cref="EndTransaction"/>).
    /// </summary>
    private void ProduceInTransaction(NativeProducer producer, PipelineItem item)
    {
        _transaction.Add(item);
        _uncommittedEvents += item.Kind == PipelineItemKind.Events ? item.RecordCount : 0;
        if (_fatal is not null || _produceFailure is not null)
        {
            return; // the transaction aborts anyway (or cannot go on): the item is answered with it
        }

        var topic = records.TopicOf(item);
        var headers = records.HeadersOf(item);
        if (item.Kind == PipelineItemKind.DeadLetter)
        {
            ProduceTransactional(producer, topic, default, item.Payload, headers, item.ReceivedAtMs);
            return;
        }

        foreach (var record in item.Events)
        {
            if (!ProduceTransactional(producer, topic, record.Key, record.Value, headers, item.ReceivedAtMs))
            {
                return;
            }
        }
    }

    /// <summary>False when the record could not be queued: the transaction must abort, so that the message's other records are not committed without it.</summary>
    private bool ProduceTransactional(NativeProducer producer, string topic, ReadOnlySpan<byte> key, ReadOnlySpan<byte> value, Headers? headers, long timestampMs)
    {
        // Opaque 0: the record's report changes nothing (OnDelivery).
        var error = ProduceWithRoom(producer, topic, key, value, headers, timestampMs, 0);
        if (error == ErrorCode.NoError)
        {
            return true;
        }

        var failure = error == ErrorCode.Local_Fatal && producer.FatalError() is { } fatal ? fatal : new Error(error);
        _produceFailure = failure;
        if (failure.IsFatal)
        {
            Fatal(failure);
        }

        return false;
    }

    /// <summary>
    /// Commits the open transaction and answers its messages (acks); or aborts it and answers them
    /// with <c>delivery_failed</c> (none of their records is committed). A fatal error (this
    /// producer was fenced by another with its transactional id) stops the gateway; a commit it
    /// interrupted is in doubt, and its messages are left unanswered, as in a crash.
    /// </summary>
    private void EndTransaction(NativeProducer producer, long began)
    {
        if (_fatal is { } fatal)
        {
            // Nothing of this pass was produced, or the transaction cannot commit.
            Answer(fatal, began, counted: false);
            return;
        }

        var failure = _produceFailure;
        if (failure is null)
        {
            switch (Commit(producer, out failure))
            {
                case TransactionEnd.Committed:
                    Answer(null, began, counted: true);
                    return;
                case TransactionEnd.InDoubt:
                    // Never answered: the connections close 1011 after a final ack without them,
                    // and their clients send them again.
                    _inDoubtEvents += _uncommittedEvents;
                    _uncommittedEvents = 0;
                    _transaction.Clear();
                    return;
            }
        }

        Abort(producer);
        if (_aborts.Take() is { } aborts)
        {
            Log.TransactionsAborted(logger, aborts, _transaction.Count, failure!.Code, failure.Reason);
        }

        Answer(failure, began, counted: true);
    }

    private enum TransactionEnd
    {
        Committed,
        MustAbort,
        InDoubt,
    }

    private TransactionEnd Commit(NativeProducer producer, out Error? failure)
    {
        failure = null;
        while (true)
        {
            var attempt = time.GetTimestamp();
            try
            {
                // A slice at a time, so that a shutdown whose budget runs out is noticed while
                // Kafka is away; a commit that timed out resumes where it was.
                producer.CommitTransaction(CommitSlice);
                return TransactionEnd.Committed;
            }
            catch (KafkaTxnRequiresAbortException e)
            {
                // A record failed for good (its delivery timeout, a non-retriable error), or the
                // coordinator aborted the transaction (it outlived transaction.timeout.ms). The
                // error says which (the records' own reports say only "purged" for most of them).
                failure = e.Error;
                return TransactionEnd.MustAbort;
            }
            catch (KafkaRetriableException) when (!shutdown.Final.IsCancellationRequested)
            {
                if (time.GetElapsedTime(attempt) < RetryBackoff)
                {
                    Thread.Sleep(RetryBackoff);
                }
            }
            catch (KafkaException e) when (e.Error.IsFatal)
            {
                Fatal(e.Error);
                return TransactionEnd.InDoubt;
            }
            catch (KafkaException e)
            {
                // The shutdown budget ran out while the commit waited for Kafka (or librdkafka
                // refused the commit in a state it should not be in): whether it happened is unknown.
                Log.CommitUnfinished(logger, _transaction.Count, e.Error.Code, e.Error.Reason);
                return TransactionEnd.InDoubt;
            }
        }
    }

    /// <summary>Aborts the open transaction; its records are never committed, whatever happens here.</summary>
    private void Abort(NativeProducer producer)
    {
        while (true)
        {
            var attempt = time.GetTimestamp();
            try
            {
                producer.AbortTransaction(CommitSlice);
                return;
            }
            catch (KafkaRetriableException) when (!shutdown.Final.IsCancellationRequested)
            {
                if (time.GetElapsedTime(attempt) < RetryBackoff)
                {
                    Thread.Sleep(RetryBackoff);
                }
            }
            catch (KafkaException e)
            {
                if (e.Error.IsFatal)
                {
                    Fatal(e.Error);
                }

                // Left open, it is aborted by its coordinator at transaction.timeout.ms, or when the
                // next producer of the transactional id starts; it never commits.
                return;
            }
        }
    }

    /// <summary>
    /// Answers every message of the transaction: acked (committed, <paramref name="failure"/> null),
    /// or <c>delivery_failed</c>. <paramref name="counted"/>: a transaction was attempted (not after a fatal error).
    /// </summary>
    private void Answer(Error? failure, long began, bool counted)
    {
        var failed = failure is not null;
        var reason = failure is null ? null : $"{failure.Code}: {failure.Reason}";
        if (failed && shutdown.HasBegun)
        {
            // Read from clients and not delivered before the exit: counted in the shutdown's error line.
            Interlocked.Add(ref _abandoned, _uncommittedEvents);
        }

        foreach (var item in _transaction)
        {
            CountOutcome(item, failure, item.RecordCount);
            (item.Batch as BatchTrace)?.Resolved(failed, item.RecordCount);
            if (item.CompleteAll(reason))
            {
                CountAnswer(item);
                metrics.MessageProduced(time.GetElapsedTime(item.TakenAt));
            }
        }

        _uncommittedEvents = 0;
        _transaction.Clear();
        if (counted)
        {
            metrics.TransactionEnded(committed: !failed, time.GetElapsedTime(began));
        }
    }

    private void Fatal(Error error)
    {
        if (_fatal is not null)
        {
            return;
        }

        _fatal = error;
        Log.TransactionsFatal(logger, error.Code, error.Reason);
        Environment.ExitCode = 1;
        lifetime.StopApplication();
    }

    private void OnError(Error error)
    {
        if (error.IsFatal)
        {
            Log.ProducerFatalError(logger, error.Code, error.Reason);
            Environment.ExitCode = 1;
            lifetime.StopApplication();
            return;
        }

        if (error.Code == ErrorCode.Local_AllBrokersDown)
        {
            health.Set($"all brokers are down: {error.Reason}");
        }

        Log.ProducerError(logger, error.Code, error.Reason);
    }

    /// <summary>A line of librdkafka's log (syslog levels), on any of its threads.</summary>
    void INativeProducerEvents.OnLog(int level, string facility, string message)
    {
        var logLevel = (SyslogLevel)level switch
        {
            SyslogLevel.Emergency or SyslogLevel.Alert or SyslogLevel.Critical or SyslogLevel.Error => LogLevel.Error,
            SyslogLevel.Warning => LogLevel.Warning,
            SyslogLevel.Notice or SyslogLevel.Info => LogLevel.Information,
            _ => LogLevel.Debug,
        };
        Log.Librdkafka(logger, logLevel, facility, message);
    }

    private static partial class Log
    {
        [LoggerMessage(EventIds.DeadLettersFailing, LogLevel.Warning, "{Count} dead-letter records were not written (the last: {Code}: {Reason}); their messages had been answered with an error frame and acked, and are counted in ingest.dead_letters{{outcome=failed}}")]
        public static partial void DeadLettersFailing(ILogger logger, long count, ErrorCode code, string reason);

        [LoggerMessage(EventIds.ProducerStarted, LogLevel.Information, "Kafka producer {ProducerName} started (idempotent, acks=all)")]
        public static partial void ProducerStarted(ILogger logger, string producerName);

        [LoggerMessage(EventIds.TransactionalProducerStarted, LogLevel.Information, "Kafka producer {ProducerName} started (transactional, transactional.id {TransactionalId}, acks=all)")]
        public static partial void TransactionalProducerStarted(ILogger logger, string producerName, string transactionalId);

        [LoggerMessage(EventIds.TransactionsUnavailable, LogLevel.Critical, "InitTransactions for transactional.id {TransactionalId} did not succeed within {TimeoutMs} ms ({Code}: {Reason}); the gateway does not start")]
        public static partial void TransactionsUnavailable(ILogger logger, string transactionalId, double timeoutMs, ErrorCode code, string reason);

        [LoggerMessage(EventIds.TransactionAborted, LogLevel.Warning, "{Count} Kafka transactions aborted (the last: {Messages} messages, {Code}: {Reason}); their messages were answered with delivery_failed, and none of their records is committed")]
        public static partial void TransactionsAborted(ILogger logger, long count, int messages, ErrorCode code, string reason);

        [LoggerMessage(EventIds.TransactionsFatal, LogLevel.Critical, "Fatal Kafka transaction error {Code}: {Reason} (another producer with this transactional.id fenced this one, or the producer cannot go on); stopping the gateway")]
        public static partial void TransactionsFatal(ILogger logger, ErrorCode code, string reason);

        [LoggerMessage(EventIds.CommitUnfinished, LogLevel.Error, "The commit of a Kafka transaction of {Messages} messages did not end ({Code}: {Reason}; the shutdown budget ran out, or the producer is in an unexpected state); the messages are in doubt and were not acked")]
        public static partial void CommitUnfinished(ILogger logger, int messages, ErrorCode code, string reason);

        [LoggerMessage(EventIds.ProducerStopped, LogLevel.Information, "Kafka producer drained and stopped")]
        public static partial void ProducerStopped(ILogger logger);

        [LoggerMessage(EventIds.ProducerError, LogLevel.Warning, "Kafka producer error {Code}: {Reason}")]
        public static partial void ProducerError(ILogger logger, ErrorCode code, string reason);

        [LoggerMessage(EventIds.ProducerFatalError, LogLevel.Critical, "Fatal Kafka producer error {Code}: {Reason}; stopping the gateway")]
        public static partial void ProducerFatalError(ILogger logger, ErrorCode code, string reason);

        [LoggerMessage(EventIds.ProducerCrashed, LogLevel.Critical, "The Kafka producer thread failed; stopping the gateway")]
        public static partial void ProducerCrashed(ILogger logger, Exception exception);

        [LoggerMessage(EventIds.FlushIncomplete, LogLevel.Error, "{Count} events read from clients were not delivered to Kafka within the {BudgetMs} ms shutdown budget; their clients were not acked and must send them again")]
        public static partial void EventsNotDelivered(ILogger logger, long count, double budgetMs);

        [LoggerMessage(EventId = EventIds.LibrdkafkaLog, Message = "librdkafka {Facility}: {Message}")]
        public static partial void Librdkafka(ILogger logger, LogLevel level, string facility, string message);
    }
}
