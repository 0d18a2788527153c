using System.Buffers;

namespace Ingest.Gateway.WebSockets;

/// <summary>
/// Reassembles one WebSocket message from its frames into a pooled buffer that grows by doubling
/// up to the message size limit, and never past it.
/// </summary>
/// <remarks>
/// Every byte at or after <c>_cleanFrom</c> is kept zero. When the WebSocket layer rejects a text
/// chunk as invalid UTF-8 it has already copied the chunk into the buffer but does not say how many
/// bytes: the zeroed tail lets <see cref="RecoverUnreportedBytes"/> find them, so that the
/// dead-letter record holds what the client sent (up to trailing NUL bytes).
/// </remarks>
internal sealed class MessageBuffer(int initialSize, int maxSize) : IDisposable
{
    private byte[]? _buffer;
    private int _length;
    private int _cleanFrom;

    /// <summary>Bytes of the current message so far.</summary>
    public int Length => _length;

    public int MaxSize => maxSize;

    public bool IsFull => _length == maxSize;

    public ReadOnlySpan<byte> Span => _buffer.AsSpan(0, _length);

    public ReadOnlyMemory<byte> Memory => _buffer.AsMemory(0, _length);

    /// <summary>Free space for the next receive, growing the buffer when it is full.</summary>
    public Memory<byte> GetReceiveMemory()
    {
        if (_buffer is null)
        {
            _buffer = ArrayPool<byte>.Shared.Rent(Math.Min(initialSize, maxSize));
            Array.Clear(_buffer);
            _cleanFrom = 0;
        }
        else if (_length == _buffer.Length && _length < maxSize)
        {
            var larger = ArrayPool<byte>.Shared.Rent((int)Math.Min((long)_buffer.Length * 2, maxSize));
            _buffer.AsSpan(0, _length).CopyTo(larger);
            Array.Clear(larger, _length, larger.Length - _length);
            ArrayPool<byte>.Shared.Return(_buffer);
            _buffer = larger;
            _cleanFrom = _length;
        }

        if (_cleanFrom > _length)
        {
            _buffer.AsSpan(_length, _cleanFrom - _length).Clear();
            _cleanFrom = _length;
        }

        return _buffer.AsMemory(_length, Math.Min(_buffer.Length, maxSize) - _length);
    }

    public void Advance(int count)
    {
        _length += count;
        _cleanFrom = Math.Max(_cleanFrom, _length);
    }

    /// <summary>After a receive that failed without reporting its count: keeps the bytes it wrote.</summary>
    public void RecoverUnreportedBytes()
    {
        if (_buffer is null)
        {
            return;
        }

        var end = Math.Min(_buffer.Length, maxSize);
        var written = _buffer.AsSpan(_length, end - _length).LastIndexOfAnyExcept((byte)0);
        Advance(written + 1);
    }

    /// <summary>
    /// Starts the next message. Unless <paramref name="keepBuffer"/> (the client is streaming), the
    /// buffer goes back to the pool, so that an idle connection holds none (renting it again for the
    /// next message is a cheap pool hit). Only a buffer of the initial size is kept, and only its
    /// used bytes are cleared, lazily.
    /// </summary>
    public void Reset(bool keepBuffer = false)
    {
        _length = 0;
        if (_buffer is not null && !(keepBuffer && _buffer.Length <= initialSize))
        {
            ArrayPool<byte>.Shared.Return(_buffer);
            _buffer = null;
        }
    }

    public void Dispose()
    {
        if (_buffer is not null)
        {
            ArrayPool<byte>.Shared.Return(_buffer);
            _buffer = null;
        }
    }
}
