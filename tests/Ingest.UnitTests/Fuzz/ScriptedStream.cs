using System.Buffers;

namespace Ingest.UnitTests.Fuzz;

/// <summary>
/// The server's side of a connection, in memory: reads serve the client's bytes (in pieces of
/// random size, some completing asynchronously, as a socket's do) and then end of stream; writes
/// are collected for the test to parse. No socket, no timers.
/// </summary>
internal sealed class ScriptedStream(byte[] input, FuzzRandom reads, int maxRead, int asyncPercent) : Stream
{
    private readonly ArrayBufferWriter<byte> _output = new();
    private readonly Lock _lock = new();
    private int _position;

    /// <summary>What the server wrote.</summary>
    public byte[] Output
    {
        get
        {
            lock (_lock)
            {
                return _output.WrittenSpan.ToArray();
            }
        }
    }

    public override bool CanRead => true;

    public override bool CanWrite => true;

    public override bool CanSeek => false;

    public override long Length => throw new NotSupportedException();

    public override long Position
    {
        get => throw new NotSupportedException();
        set => throw new NotSupportedException();
    }

    public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
        asyncPercent > 0 && buffer.Length > 0 && reads.Percent(asyncPercent)
            ? ReadLaterAsync(buffer)
            : ValueTask.FromResult(Serve(buffer.Span));

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override int Read(byte[] buffer, int offset, int count) => Serve(buffer.AsSpan(offset, count));

    public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        Write(buffer.Span);
        return ValueTask.CompletedTask;
    }

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
    {
        Write(buffer.AsSpan(offset, count));
        return Task.CompletedTask;
    }

    public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

    public override void Write(ReadOnlySpan<byte> buffer)
    {
        lock (_lock)
        {
            _output.Write(buffer);
        }
    }

    public override void Flush()
    {
    }

    public override Task FlushAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    private async ValueTask<int> ReadLaterAsync(Memory<byte> buffer)
    {
        await Task.Yield();
        return Serve(buffer.Span);
    }

    /// <summary>Up to what was asked (at most <c>maxRead</c> when set); 0 at the end, or for a zero-byte read.</summary>
    private int Serve(Span<byte> buffer)
    {
        var count = Math.Min(buffer.Length, input.Length - _position);
        if (maxRead > 0 && count > 1)
        {
            count = Math.Min(count, reads.Next(1, maxRead + 1));
        }

        input.AsSpan(_position, count).CopyTo(buffer);
        _position += count;
        return count;
    }
}
