using System.Buffers;
using System.IO.Pipelines;
using Ingest.Gateway.Diagnostics;
using Ingest.Gateway.Configuration;
using Ingest.Gateway.Security;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Options;

namespace Ingest.Gateway.Streaming;

/// <summary>
/// <c>GET /stream</c>: Server-Sent Events of the events topic, live, optionally filtered by
/// <c>?clientId=</c>. Same API key and origin rules as <c>/ws</c>. Each subscriber drains its own
/// bounded queue here; when the client reads slowly, the writes wait, its queue fills and its
/// events are dropped (and announced with <c>event: dropped</c>), while everyone else goes on.
/// </summary>
internal sealed partial class StreamEndpoint(
    StreamHub hub,
    ClientAccess access,
    IngestMetrics metrics,
    IOptions<IngestOptions> options,
    IHostApplicationLifetime lifetime,
    TimeProvider timeProvider,
    ILogger<StreamEndpoint> logger)
{
    /// <summary>Bytes written before a flush even while more frames wait: bounds what one write holds.</summary>
    private const int FlushThresholdBytes = 32 * 1024;

    private readonly TimeSpan _heartbeat = TimeSpan.FromMilliseconds(options.Value.Stream.HeartbeatMs);
    private readonly TimeSpan _stallTimeout = TimeSpan.FromMilliseconds(options.Value.Stream.StallTimeoutMs);

    public async Task HandleAsync(HttpContext context)
    {
        var admission = await access.AdmitAsync(context);
        if (!admission.Admitted)
        {
            return;
        }

        var filter = context.Request.Query["clientId"];
        if (filter.Count > 1)
        {
            await access.RejectAsync(context, StatusCodes.Status400BadRequest, "invalid_filter", "give at most one clientId");
            return;
        }

        // ?trace=1: each telemetry frame also carries the record's traceparent header.
        var showTrace = context.Request.Query["trace"].ToString() is "1" or "true";

        // A token that names a clientId reads that client's events only (its filter is that clientId).
        if (admission.ClientId is { } allowed)
        {
            if (!string.IsNullOrEmpty(filter) && filter.ToString() != allowed)
            {
                await access.RejectAsync(context, StatusCodes.Status403Forbidden, "client_id_mismatch", "this token may read only the events of its own clientId");
                return;
            }

            filter = allowed;
        }

        if (lifetime.ApplicationStopping.IsCancellationRequested)
        {
            await access.RejectAsync(context, StatusCodes.Status503ServiceUnavailable, "draining", "the gateway is shutting down; connect to another instance");
            return;
        }

        var clientId = string.IsNullOrEmpty(filter) ? null : filter.ToString();
        var subscriber = hub.TrySubscribe(clientId, showTrace);
        if (subscriber is null)
        {
            context.Response.Headers.RetryAfter = "5";
            await access.RejectAsync(context, StatusCodes.Status503ServiceUnavailable, "too_many_subscribers", "the gateway is at its /stream subscriber limit");
            return;
        }

        Log.SubscriberOpened(logger, context.Connection.Id, clientId, context.Connection.RemoteIpAddress?.ToString());
        var session = new Session(context, subscriber, metrics, logger, _stallTimeout, timeProvider);
        using var ended = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted, lifetime.ApplicationStopping);
        try
        {
            await ServeAsync(session, ended.Token);
        }
        catch (OperationCanceledException) when (ended.IsCancellationRequested)
        {
            // The client left, or the gateway stops. A client that does not read would hold the
            // response's end (and the shutdown) behind its full socket: drop its connection.
            if (session.Flushing)
            {
                context.Abort();
            }
        }
        catch (IOException)
        {
            // The connection broke mid-write.
        }
        catch (TimeoutException) when (session.Flushing)
        {
            // One write waited the stall timeout: the client is stuck, or gone without a FIN.
            Log.SubscriberStalled(logger, context.Connection.Id, _stallTimeout.TotalMilliseconds);
            context.Abort();
        }
        finally
        {
            hub.Unsubscribe(subscriber);
            Log.SubscriberClosed(logger, context.Connection.Id, session.Delivered, subscriber.Dropped);
        }
    }

    private async Task ServeAsync(Session session, CancellationToken cancellationToken)
    {
        var response = session.Context.Response;
        response.ContentType = "text/event-stream";
        response.Headers.CacheControl = "no-cache";
        // nginx buffers proxied responses unless told not to.
        response.Headers["X-Accel-Buffering"] = "no";
        session.Context.Features.Get<IHttpResponseBodyFeature>()?.DisableBuffering();

        session.Write(StreamFrames.Retry);
        if (!await session.FlushAsync(cancellationToken))
        {
            return;
        }

        await session.Subscriber.Ready.WaitAsync(cancellationToken);
        session.Write(StreamFrames.Ready(session.Subscriber.ClientId));
        if (!await session.FlushAsync(cancellationToken))
        {
            return;
        }

        var subscriber = session.Subscriber;
        using var timer = new PeriodicTimer(_heartbeat, timeProvider);
        var heartbeat = timer.WaitForNextTickAsync(cancellationToken).AsTask();
        Task<bool>? readable = null;
        while (true)
        {
            while (subscriber.TryDequeue(out var item))
            {
                if (item.DroppedBefore > 0)
                {
                    session.WriteDropped(item.DroppedBefore);
                }

                session.WriteEvent(item.Frame);
                if (session.Unflushed >= FlushThresholdBytes && !await session.FlushAsync(cancellationToken))
                {
                    return;
                }
            }

            // Drops after the last queued frame are announced now, not with some later event.
            if (session.Subscriber.TakeUndeclaredDrops() is > 0 and var dropped)
            {
                session.WriteDropped(dropped);
            }

            if (heartbeat.IsCompleted)
            {
                cancellationToken.ThrowIfCancellationRequested();
                session.Write(StreamFrames.Heartbeat);
                heartbeat = timer.WaitForNextTickAsync(cancellationToken).AsTask();
            }

            if (session.Unflushed > 0 && !await session.FlushAsync(cancellationToken))
            {
                return;
            }

            readable ??= subscriber.WaitToReadAsync(cancellationToken).AsTask();
            await Task.WhenAny(readable, heartbeat);
            cancellationToken.ThrowIfCancellationRequested();
            if (readable.IsCompleted)
            {
                if (!await readable)
                {
                    return;
                }

                readable = null;
            }
        }
    }

    /// <summary>One response: buffered writes into Kestrel's pipe, flushes, and what was delivered.</summary>
    private sealed class Session(HttpContext context, StreamSubscriber subscriber, IngestMetrics metrics, ILogger logger, TimeSpan stallTimeout, TimeProvider timeProvider)
    {
        private readonly PipeWriter _writer = context.Response.BodyWriter;
        private int _unflushedEvents;
        private bool _announcedDrops;

        public HttpContext Context => context;

        public StreamSubscriber Subscriber => subscriber;

        public long Delivered { get; private set; }

        public int Unflushed { get; private set; }

        /// <summary>True while a flush waits for the client to take the bytes.</summary>
        public bool Flushing { get; private set; }

        public void Write(ReadOnlySpan<byte> frame)
        {
            _writer.Write(frame);
            Unflushed += frame.Length;
        }

        public void WriteEvent(byte[] frame)
        {
            Write(frame);
            _unflushedEvents++;
        }

        public void WriteDropped(long count)
        {
            Write(StreamFrames.Dropped(count));
            if (!_announcedDrops)
            {
                _announcedDrops = true;
                Log.SubscriberDropping(logger, context.Connection.Id, subscriber.ClientId);
            }
        }

        /// <summary>
        /// Sends what was written; false when the client is gone. Throws <see cref="TimeoutException"/>
        /// when the client did not take it within the stall timeout.
        /// </summary>
        public async Task<bool> FlushAsync(CancellationToken cancellationToken)
        {
            Flushing = true;
            var flush = _writer.FlushAsync(cancellationToken);
            var result = flush.IsCompleted ? flush.Result : await flush.AsTask().WaitAsync(stallTimeout, timeProvider, cancellationToken);
            if (result.IsCanceled)
            {
                cancellationToken.ThrowIfCancellationRequested();
                return false;
            }

            Flushing = false;
            Unflushed = 0;
            if (result.IsCompleted)
            {
                return false;
            }

            Delivered += _unflushedEvents;
            metrics.StreamEventsDelivered(_unflushedEvents);
            _unflushedEvents = 0;
            return true;
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventIds.SubscriberOpened, LogLevel.Debug, "Stream subscriber {ConnectionId} opened for clientId {ClientId} from {RemoteAddress}")]
        public static partial void SubscriberOpened(ILogger logger, string connectionId, string? clientId, string? remoteAddress);

        [LoggerMessage(EventIds.SubscriberClosed, LogLevel.Debug, "Stream subscriber {ConnectionId} closed after {Delivered} events delivered and {Dropped} dropped")]
        public static partial void SubscriberClosed(ILogger logger, string connectionId, long delivered, long dropped);

        [LoggerMessage(EventIds.SubscriberStalled, LogLevel.Information, "Stream subscriber {ConnectionId} did not take a write within {StallTimeoutMs} ms; connection dropped")]
        public static partial void SubscriberStalled(ILogger logger, string connectionId, double stallTimeoutMs);

        [LoggerMessage(EventIds.SubscriberDropping, LogLevel.Information, "Stream subscriber {ConnectionId} (clientId {ClientId}) reads slower than its events arrive; dropping events for it")]
        public static partial void SubscriberDropping(ILogger logger, string connectionId, string? clientId);
    }
}
