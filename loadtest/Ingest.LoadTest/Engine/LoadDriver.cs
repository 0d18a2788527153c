using System.Diagnostics;

namespace Ingest.LoadTest.Engine;

/// <summary>
/// Runs one step of load: connects <c>clients</c> <see cref="LoadClient"/>s, runs a body per client
/// (its load simulation), then waits until every client's messages are resolved.
/// </summary>
internal static class LoadDriver
{
    /// <summary>Connections opened at once; Kestrel's accept backlog is 512.</summary>
    private const int ConnectParallelism = 128;

    public static async Task<TimeSpan> RunAsync(
        Uri uri,
        int clients,
        LoadClientOptions options,
        LoadStats stats,
        Func<int, LoadClient, CancellationToken, Task> body,
        TimeSpan drainTimeout,
        CancellationToken cancellationToken)
    {
        var all = await ConnectAsync(uri, clients, options, stats, cancellationToken).ConfigureAwait(false);
        try
        {
            var started = Stopwatch.GetTimestamp();
            await Task.WhenAll(all.Select((client, i) => Task.Run(() => body(i, client, cancellationToken), cancellationToken))).ConfigureAwait(false);
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(drainTimeout);
            try
            {
                await Task.WhenAll(all.Select(c => c.WaitUntilDrainedAsync(timeout.Token))).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                // Reported as sent but not acked.
            }

            return Stopwatch.GetElapsedTime(started);
        }
        finally
        {
            await DisposeAllAsync(all).ConfigureAwait(false);
        }
    }

    /// <summary>Connects <paramref name="clients"/> clients, <see cref="ConnectParallelism"/> at a time.</summary>
    public static Task<LoadClient[]> ConnectAsync(Uri uri, int clients, LoadClientOptions options, LoadStats stats, CancellationToken cancellationToken) =>
        ConnectAsync(uri, clients, options, stats, ConnectParallelism, onConnected: null, cancellationToken);

    /// <summary>
    /// Connects <paramref name="clients"/> clients, <paramref name="parallelism"/> at a time (handshakes
    /// in progress hold the gateway's plain-HTTP connection slots, 512 by default: stay well below).
    /// <paramref name="onConnected"/> hears the count so far after each connection. When connecting
    /// fails or is cancelled, the clients connected so far are closed before the exception goes on.
    /// </summary>
    public static async Task<LoadClient[]> ConnectAsync(
        Uri uri,
        int clients,
        LoadClientOptions options,
        LoadStats stats,
        int parallelism,
        Action<int>? onConnected,
        CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(parallelism, 1);
        var all = new LoadClient[clients];
        for (var i = 0; i < clients; i++)
        {
            all[i] = new LoadClient(uri, options, stats);
        }

        var connected = 0;
        using var gate = new SemaphoreSlim(parallelism);
        try
        {
            await Task.WhenAll(all.Select(async client =>
            {
                await gate.WaitAsync(cancellationToken).ConfigureAwait(false);
                try
                {
                    await client.StartAsync(cancellationToken).ConfigureAwait(false);
                }
                finally
                {
                    gate.Release();
                }

                onConnected?.Invoke(Interlocked.Increment(ref connected));
            })).ConfigureAwait(false);
        }
        catch
        {
            await DisposeAllAsync(all).ConfigureAwait(false);
            throw;
        }

        return all;
    }

    public static async Task DisposeAllAsync(IEnumerable<LoadClient> clients) =>
        await Task.WhenAll(clients.Select(c => c.DisposeAsync().AsTask())).ConfigureAwait(false);

    /// <summary>
    /// A body that keeps its connection idle for <paramref name="hold"/> before <paramref name="body"/>:
    /// every client is connected before any body starts, so all of them are open and idle together.
    /// </summary>
    public static Func<int, LoadClient, CancellationToken, Task> AfterHold(TimeSpan hold, Func<int, LoadClient, CancellationToken, Task> body) =>
        async (index, client, token) =>
        {
            await Task.Delay(hold, token).ConfigureAwait(false);
            await body(index, client, token).ConfigureAwait(false);
        };

    /// <summary>A body that sends <paramref name="events"/> events as fast as the window allows.</summary>
    public static Func<int, LoadClient, CancellationToken, Task> AsFastAsAcked(string runId, int events, int batch) =>
        async (index, client, token) =>
        {
            for (var n = 0; n < events; n += batch)
            {
                var count = Math.Min(batch, events - n);
                var payload = TestEvents.Message(runId, index, n, count, DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(), batch > 1);
                await client.SendAsync(payload, count, TestEvents.Key(index, n), 0, token).ConfigureAwait(false);
            }
        };

    /// <summary>
    /// A body that sends <paramref name="events"/> events, one message every
    /// <paramref name="interval"/>, on a fixed schedule (late messages go out at once, not pushed back).
    /// <paramref name="scheduleLag"/> records how late each message went out: the harness's own delay.
    /// With <paramref name="latencyFromSchedule"/> a message's send-to-ack latency starts at its
    /// scheduled time rather than when it went out, so that a harness or a window that held it back
    /// counts (as the bench's raw producer counts its delivery latency from each event's schedule).
    /// </summary>
    public static Func<int, LoadClient, CancellationToken, Task> Paced(string runId, int events, int batch, TimeSpan interval, LatencyHistogram? scheduleLag, bool latencyFromSchedule = false) =>
        async (index, client, token) =>
        {
            var start = Stopwatch.GetTimestamp();
            var intervalTicks = interval.TotalSeconds * Stopwatch.Frequency;
            // Spread clients over the first interval, so that they do not all send in the same millisecond.
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

                scheduleLag?.RecordSince(due, now);
                var count = Math.Min(batch, events - n);
                var payload = TestEvents.Message(runId, index, n, count, DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(), batch > 1);
                await client.SendAsync(payload, count, TestEvents.Key(index, n), latencyFromSchedule ? due : 0, token).ConfigureAwait(false);
            }
        };
}
