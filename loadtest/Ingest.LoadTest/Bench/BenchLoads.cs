using System.Diagnostics;
using Ingest.LoadTest.Engine;

namespace Ingest.LoadTest.Bench;

/// <summary>Load bodies of the bench that the scenarios do not use.</summary>
internal static class BenchLoads
{
    /// <summary>
    /// Like <see cref="LoadDriver.Paced"/> (one message every <paramref name="interval"/> per client,
    /// on a fixed schedule, clients spread over the first interval), but each message's send-to-ack
    /// latency starts at its scheduled time rather than when it went out: a harness or a window that
    /// held it back counts, as the raw producer's delivery latency counts from each event's scheduled
    /// time (<see cref="RawProducerBench.Paced"/>). <paramref name="scheduleLag"/> records how late
    /// each message went out.
    /// </summary>
    public static Func<int, LoadClient, CancellationToken, Task> PacedFromSchedule(string runId, int events, int batch, TimeSpan interval, LatencyHistogram scheduleLag) =>
        async (index, client, token) =>
        {
            var start = Stopwatch.GetTimestamp();
            var intervalTicks = interval.TotalSeconds * Stopwatch.Frequency;
            var offset = intervalTicks * Random.Shared.NextDouble();
            var i = 0;
            for (var n = 0; n < events; n += batch, i++)
            {
                var due = start + (long)(offset + (i * intervalTicks));
                var now = Stopwatch.GetTimestamp();
                if (due > now)
                {
                    await Task.Delay(TimeSpan.FromSeconds((double)(due - now) / Stopwatch.Frequency), token).ConfigureAwait(false);
                    now = Stopwatch.GetTimestamp();
                }

                scheduleLag.RecordSince(due, now);
                var count = Math.Min(batch, events - n);
                var payload = TestEvents.Message(runId, index, n, count, DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(), batch > 1);
                await client.SendAsync(payload, count, TestEvents.Key(index, n), due, token).ConfigureAwait(false);
            }
        };
}
