using System.Buffers;
using System.IO.Pipelines;

namespace Ingest.Gateway.WebSockets;

/// <summary>
/// A connection's pipes as the stream a <see cref="System.Net.WebSockets.WebSocket"/> runs over.
/// A zero-byte read waits for data without consuming any (the reader's wait of an idle
/// connection, which then holds no buffer). Disposing it (the WebSocket's close or abort) ends
/// pending and later reads and writes; the connection itself closes when its middleware returns.
/// </summary>
internal sealed class DuplexPipeStream(IDuplexPipe transport) : Stream
{
    private readonly PipeReader _input = transport.Input;
    private readonly PipeWriter _output = transport.Output;
    private volatile bool _disposed;

    public override bool CanRead => true;

    public override bool CanSeek => false;

    public override bool CanWrite => true;

    public override long Length => throw new NotSupportedException();

    public override long Position
    {
        get => throw new NotSupportedException();
        set => throw new NotSupportedException();
    }

    public override async ValueTask<int> ReadAsync(Memory<byte> destination, CancellationToken cancellationToken = default)
    {
        while (true)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            var result = await _input.ReadAsync(cancellationToken);
            var buffer = result.Buffer;
            if (_disposed || result.IsCanceled)
            {
                _input.AdvanceTo(buffer.Start);
                ObjectDisposedException.ThrowIf(_disposed, this);
                continue; // a cancelled read that was not ours
            }

            if (buffer.IsEmpty)
            {
                _input.AdvanceTo(buffer.End);
                if (result.IsCompleted)
                {
                    return 0;
                }

                continue;
            }

            if (destination.IsEmpty)
            {
                _input.AdvanceTo(buffer.Start); // data is there; nothing taken
                return 0;
            }

            var count = (int)Math.Min(buffer.Length, destination.Length);
            var taken = buffer.Slice(0, count);
            taken.CopyTo(destination.Span);
            _input.AdvanceTo(taken.End);
            return count;
        }
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override async ValueTask WriteAsync(ReadOnlyMemory<byte> source, CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        var result = await _output.WriteAsync(source, cancellationToken);
        if (result.IsCanceled)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            throw new OperationCanceledException(cancellationToken);
        }

        if (result.IsCompleted)
        {
            throw new IOException("the connection is closed");
        }
    }

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override async Task FlushAsync(CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        await _output.FlushAsync(cancellationToken);
    }

    public override void Flush() => throw new NotSupportedException();

    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        if (disposing && !_disposed)
        {
            _disposed = true;
            _input.CancelPendingRead();
            _output.CancelPendingFlush();
        }

        base.Dispose(disposing);
    }
}
