using System.IO.Pipelines;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Connections.Features;

namespace Ingest.Gateway.WebSockets;

/// <summary>
/// Lets <c>/ws</c> keep a WebSocket's bytes after its HTTP request has ended, so that a connection
/// holds no HTTP/1.1 request state for its life (Kestrel's connection, request and response
/// headers, <c>HttpContext</c> and its features, the upgrade streams: about 4 KB of every idle
/// connection, docs/benchmarks.md). A Kestrel connection middleware (<see cref="InvokeAsync"/>)
/// gives the HTTP layer the connection's pipes behind thin wrappers. <c>/ws</c> checks the
/// handshake as any request, answers 101, calls <see cref="HandOff"/> and returns; the wrappers
/// then ignore the HTTP layer's closing of the pipes, and once the HTTP layer has let go of the
/// connection this middleware runs the WebSocket over the same pipes.
/// </summary>
/// <remarks>
/// Only a plain HTTP/1.1 connection is taken over: over TLS the HTTP layer reads the TLS pipes,
/// which the TLS middleware closes when the HTTP layer ends, and an HTTP/2 WebSocket is a stream of
/// a connection shared with other requests. Those keep the WebSocket inside their request.
/// </remarks>
internal sealed class ConnectionTakeover
{
    /// <summary>How long a connection whose WebSocket closed in order may take to send what is left and close.</summary>
    private static readonly TimeSpan Linger = TimeSpan.FromSeconds(5);

    private readonly TakeoverReader _input;
    private readonly TakeoverWriter _output;
    private readonly HeartbeatRelay _heartbeat = new();
    private Func<IDuplexPipe, Task<bool>>? _handOff;

    private ConnectionTakeover(IDuplexPipe transport)
    {
        _input = new TakeoverReader(transport.Input);
        _output = new TakeoverWriter(transport.Output);
    }

    /// <summary>Whether the HTTP layer reads and writes this connection through the wrappers: no TLS or other layer came between.</summary>
    public bool ServesRequest(HttpContext context) =>
        context.Request.Protocol == "HTTP/1.1" && !context.Request.IsHttps && _input.Used && _handOff is null;

    /// <summary>
    /// The connection middleware: the HTTP layer runs over the wrappers; once it ends, a handed-off
    /// WebSocket runs over the connection's pipes.
    /// </summary>
    public static async Task InvokeAsync(ConnectionContext connection, ConnectionDelegate next)
    {
        var original = connection.Transport;
        if (await ServeHttpAsync(connection, next) is not { } run)
        {
            return;
        }

        // What the WebSocket holds, and no more: the takeover and its wrappers are gone.
        if (await run(original))
        {
            // The WebSocket was aborted: its client takes no frames (or took too long to answer the
            // close). Kestrel would send what is left before it closes the socket, which such a
            // client holds open for as long as it likes: drop the connection now.
            connection.Abort(new ConnectionAbortedException("the WebSocket was aborted"));
        }
        else
        {
            // Closed in order: Kestrel closes the socket once what is left has been sent. A client
            // that stopped reading after the close would hold that too; the HTTP layer's drain
            // timeout bounded it, this does now.
            _ = AbortUnlessClosedAsync(connection);
        }
    }

    /// <summary>Aborts <paramref name="connection"/> unless it has closed within <see cref="Linger"/>.</summary>
    private static async Task AbortUnlessClosedAsync(ConnectionContext connection)
    {
        try
        {
            await Task.Delay(Linger, connection.ConnectionClosed);
        }
        catch (OperationCanceledException)
        {
            return; // closed in time
        }

        try
        {
            connection.Abort(new ConnectionAbortedException("the connection did not close within the linger time after its WebSocket closed"));
        }
        catch (Exception e) when (e is ObjectDisposedException or InvalidOperationException)
        {
            // Gone meanwhile.
        }
    }

    /// <summary>
    /// Runs the HTTP layer over the wrappers; returns the WebSocket handed off, if any (its task
    /// answers whether the WebSocket was aborted).
    /// </summary>
    private static async Task<Func<IDuplexPipe, Task<bool>>?> ServeHttpAsync(ConnectionContext connection, ConnectionDelegate next)
    {
        var original = connection.Transport;
        var takeover = new ConnectionTakeover(original);
        connection.Features.Set(takeover);
        connection.Transport = new DuplexPipe(takeover._input, takeover._output);

        // Kestrel's HTTP layer registers a heartbeat callback for its timeouts that the connection
        // keeps to its end, and with it the HTTP layer's whole state: it goes through a relay that
        // lets go of it at the hand-off (a WebSocket has its own timeouts).
        var heartbeat = connection.Features.Get<IConnectionHeartbeatFeature>();
        if (heartbeat is not null)
        {
            heartbeat.OnHeartbeat(static state => ((HeartbeatRelay)state).Tick(), takeover._heartbeat);
            connection.Features.Set<IConnectionHeartbeatFeature>(takeover._heartbeat);
        }

        try
        {
            await next(connection);
        }
        catch (Exception) when (takeover._handOff is not null)
        {
            // The HTTP layer failed after the 101: the WebSocket still runs, and finds out for itself
            // whether the connection is usable (its session must end through it either way).
        }
        finally
        {
            connection.Transport = original;
            connection.Features.Set<ConnectionTakeover>(null);
            if (heartbeat is not null)
            {
                connection.Features.Set(heartbeat);
            }
        }

        return takeover._handOff;
    }

    /// <summary>
    /// Called by the request that answered 101, just before it returns: from now on the HTTP
    /// layer's closing and cancelling of the pipes is ignored, and <paramref name="run"/> serves the
    /// connection once the HTTP layer has ended.
    /// </summary>
    public void HandOff(Func<IDuplexPipe, Task<bool>> run)
    {
        _input.Detach();
        _output.Detach();
        _heartbeat.Detach();
        _handOff = run;
    }

    /// <summary>
    /// The HTTP layer's heartbeat callbacks, called until the hand-off and then dropped. Kestrel keeps
    /// the relay registered for the connection's life: it holds nothing after the hand-off.
    /// </summary>
    private sealed class HeartbeatRelay : IConnectionHeartbeatFeature
    {
        private (Action<object> Action, object State)[]? _callbacks = [];

        public void OnHeartbeat(Action<object> action, object state)
        {
            var current = Volatile.Read(ref _callbacks);
            while (current is not null)
            {
                var seen = Interlocked.CompareExchange(ref _callbacks, [.. current, (action, state)], current);
                if (ReferenceEquals(seen, current))
                {
                    return;
                }

                current = seen;
            }
        }

        public void Tick()
        {
            foreach (var (action, state) in Volatile.Read(ref _callbacks) ?? [])
            {
                action(state);
            }
        }

        public void Detach() => Volatile.Write(ref _callbacks, null);
    }

    private sealed class DuplexPipe(PipeReader input, PipeWriter output) : IDuplexPipe
    {
        public PipeReader Input { get; } = input;

        public PipeWriter Output { get; } = output;
    }

    /// <summary>Passes everything through until detached; after that only reads.</summary>
    private sealed class TakeoverReader(PipeReader inner) : PipeReader
    {
        private volatile bool _detached;

        /// <summary>Whether the HTTP layer has read through this wrapper (it has, by the time a request runs, unless a layer came between).</summary>
        public bool Used { get; private set; }

        public void Detach() => _detached = true;

        public override void AdvanceTo(SequencePosition consumed) => inner.AdvanceTo(consumed);

        public override void AdvanceTo(SequencePosition consumed, SequencePosition examined) => inner.AdvanceTo(consumed, examined);

        public override void CancelPendingRead()
        {
            if (!_detached)
            {
                inner.CancelPendingRead();
            }
        }

        public override void Complete(Exception? exception = null)
        {
            if (!_detached)
            {
                inner.Complete(exception);
            }
        }

        public override ValueTask<ReadResult> ReadAsync(CancellationToken cancellationToken = default)
        {
            Used = true;
            return inner.ReadAsync(cancellationToken);
        }

        public override bool TryRead(out ReadResult result)
        {
            Used = true;
            return inner.TryRead(out result);
        }
    }

    /// <summary>Passes everything through until detached; after that it ignores completion and cancellation.</summary>
    private sealed class TakeoverWriter(PipeWriter inner) : PipeWriter
    {
        private volatile bool _detached;

        public override bool CanGetUnflushedBytes => inner.CanGetUnflushedBytes;

        public override long UnflushedBytes => inner.UnflushedBytes;

        public void Detach() => _detached = true;

        public override void Advance(int bytes) => inner.Advance(bytes);

        public override void CancelPendingFlush()
        {
            if (!_detached)
            {
                inner.CancelPendingFlush();
            }
        }

        public override void Complete(Exception? exception = null)
        {
            if (!_detached)
            {
                inner.Complete(exception);
            }
        }

        public override ValueTask<FlushResult> FlushAsync(CancellationToken cancellationToken = default) => inner.FlushAsync(cancellationToken);

        public override Memory<byte> GetMemory(int sizeHint = 0) => inner.GetMemory(sizeHint);

        public override Span<byte> GetSpan(int sizeHint = 0) => inner.GetSpan(sizeHint);
    }
}
