using System.Runtime;
using Ingest.Gateway.Diagnostics;

namespace Ingest.Gateway.Pipeline;

/// <summary>
/// Gives memory back to the operating system after a burst. Large message buffers live on the
/// large object heap, which only a full collection frees, and a gateway that goes quiet after a
/// burst allocates too little to cause one: the memory would stay resident. So once the memory
/// budgets have been used heavily and are nearly empty again, one compacting
/// full collection runs (the large object heap compacted too), and the shared array pool, which
/// trims on full collections, lets go of what it kept.
/// </summary>
internal sealed partial class MemoryTrimmer(ReassemblyBudget reassembly, QueueBudget queue, TimeProvider time, ILogger<MemoryTrimmer> logger) : BackgroundService
{
    private static readonly TimeSpan Interval = TimeSpan.FromSeconds(2);

    /// <summary>A burst worth trimming after: less than this in use at the peak is left to the GC.</summary>
    private const long Worthwhile = 32L * 1024 * 1024;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(Interval, time);
        long peak = 0;
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                var inUse = reassembly.InUse + queue.InUse;
                peak = Math.Max(peak, inUse);
                if (peak < Worthwhile || inUse > peak / 8)
                {
                    continue;
                }

                var before = Environment.WorkingSet;
                var heapBefore = GC.GetGCMemoryInfo().HeapSizeBytes;
                GCSettings.LargeObjectHeapCompactionMode = GCLargeObjectHeapCompactionMode.CompactOnce;
                GC.Collect(GC.MaxGeneration, GCCollectionMode.Aggressive, blocking: true, compacting: true);
                Log.Trimmed(logger, peak / (1024 * 1024), before / (1024 * 1024), Environment.WorkingSet / (1024 * 1024), heapBefore / (1024 * 1024), GC.GetGCMemoryInfo().HeapSizeBytes / (1024 * 1024));
                peak = inUse;
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Shutting down.
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventIds.MemoryTrimmed, LogLevel.Information, "After a burst of {PeakMiB} MiB of client messages: full collection, resident memory {BeforeMiB} MiB -> {AfterMiB} MiB, managed heap {HeapBeforeMiB} MiB -> {HeapAfterMiB} MiB")]
        public static partial void Trimmed(ILogger logger, long peakMiB, long beforeMiB, long afterMiB, long heapBeforeMiB, long heapAfterMiB);
    }
}
