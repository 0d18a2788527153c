using System.Runtime;
using Ingest.Gateway.Configuration;
using Ingest.Gateway.Diagnostics;
using Ingest.Gateway.WebSockets;
using Microsoft.Extensions.Options;

namespace Ingest.Gateway.Pipeline;

/// <summary>
/// Gives memory back to the operating system after a burst. Large message buffers live on the
/// large object heap, which only a full collection frees, and a gateway that goes quiet after a
/// burst allocates too little to cause one: the memory would stay resident. A storm of new
/// connections leaves the same kind of garbage: what each handshake allocated lies between the
/// connections' long-lived objects, in memory the collector keeps until it compacts. So after
/// either kind of burst (<see cref="TrimPolicy"/>) one compacting full collection runs (the large
/// object heap compacted too), and the shared array pool, which trims on full collections, lets go
/// of what it kept.
/// </summary>
internal sealed partial class MemoryTrimmer(
    ReassemblyBudget reassembly,
    QueueBudget queue,
    ConnectionRegistry connections,
    IOptions<IngestOptions> options,
    TimeProvider time,
    ILogger<MemoryTrimmer> logger) : BackgroundService
{
    private static readonly TimeSpan Interval = TimeSpan.FromSeconds(1);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(Interval, time);
        var policy = new TrimPolicy(options.Value.Memory.TrimAfterConnections);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                var trim = policy.Next(reassembly.InUse + queue.InUse, connections.Active);
                if (trim is null)
                {
                    continue;
                }

                var before = Environment.WorkingSet;
                var heapBefore = GC.GetGCMemoryInfo().HeapSizeBytes;
                var pausedBefore = GC.GetTotalPauseDuration();
                GCSettings.LargeObjectHeapCompactionMode = GCLargeObjectHeapCompactionMode.CompactOnce;
                GC.Collect(GC.MaxGeneration, GCCollectionMode.Aggressive, blocking: true, compacting: true);
                var pauseMs = (GC.GetTotalPauseDuration() - pausedBefore).TotalMilliseconds;
                var (after, heapAfter) = (Environment.WorkingSet / (1024 * 1024), GC.GetGCMemoryInfo().HeapSizeBytes / (1024 * 1024));
                if (trim.Value.Kind == TrimPolicy.Burst.Messages)
                {
                    Log.Trimmed(logger, trim.Value.Size / (1024 * 1024), before / (1024 * 1024), after, heapBefore / (1024 * 1024), heapAfter, pauseMs);
                }
                else
                {
                    Log.TrimmedAfterConnections(logger, trim.Value.Size, before / (1024 * 1024), after, heapBefore / (1024 * 1024), heapAfter, pauseMs);
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Shutting down.
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventIds.MemoryTrimmed, LogLevel.Information, "After a burst of {PeakMiB} MiB of client messages: full collection, resident memory {BeforeMiB} MiB -> {AfterMiB} MiB, managed heap {HeapBeforeMiB} MiB -> {HeapAfterMiB} MiB, pause {PauseMs:0} ms")]
        public static partial void Trimmed(ILogger logger, long peakMiB, long beforeMiB, long afterMiB, long heapBeforeMiB, long heapAfterMiB, double pauseMs);

        [LoggerMessage(EventIds.MemoryTrimmed, LogLevel.Information, "After {Connections} new connections: full collection, resident memory {BeforeMiB} MiB -> {AfterMiB} MiB, managed heap {HeapBeforeMiB} MiB -> {HeapAfterMiB} MiB, pause {PauseMs:0} ms")]
        public static partial void TrimmedAfterConnections(ILogger logger, long connections, long beforeMiB, long afterMiB, long heapBeforeMiB, long heapAfterMiB, double pauseMs);
    }
}

/// <summary>
/// When <see cref="MemoryTrimmer"/> collects, from what it reads once a second: once the memory
/// budgets have been used heavily (<see cref="WorthwhileBytes"/> at the peak) and are nearly empty
/// again (an eighth of the peak), or once <paramref name="connectionBurst"/> or more connections
/// have opened since the last collection and their number has stopped growing (0: never for
/// connections).
/// </summary>
internal sealed class TrimPolicy(int connectionBurst)
{
    /// <summary>A burst of messages worth trimming after: less than this in use at the peak is left to the GC.</summary>
    public const long WorthwhileBytes = 32L * 1024 * 1024;

    private long _peak;
    private int _base; // the connections at the last collection (or fewer, once some closed)
    private int _last; // the connections at the last reading

    /// <summary>What kind of burst a collection follows.</summary>
    public enum Burst
    {
        /// <summary>Client messages in the memory budgets; the size is the peak in bytes.</summary>
        Messages,

        /// <summary>New connections; the size is how many.</summary>
        Connections,
    }

    /// <summary>Whether to collect now, after what kind of burst and how large a one; null: not now.</summary>
    public (Burst Kind, long Size)? Next(long budgetsInUse, int connections)
    {
        _peak = Math.Max(_peak, budgetsInUse);
        _base = Math.Min(_base, connections); // connections that closed make no burst
        var growing = connections > _last;
        _last = connections;

        (Burst, long)? trim = null;
        if (_peak >= WorthwhileBytes && budgetsInUse <= _peak / 8)
        {
            trim = (Burst.Messages, _peak);
        }
        else if (connectionBurst > 0 && connections - _base >= connectionBurst && !growing)
        {
            trim = (Burst.Connections, connections - _base);
        }

        if (trim is not null)
        {
            _peak = budgetsInUse;
            _base = connections;
        }

        return trim;
    }
}
