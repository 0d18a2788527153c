using System.Buffers;
using System.Numerics;
using Ingest.Gateway.Pipeline;

namespace Ingest.Gateway.WebSockets;

/// <summary>
/// Reassembles one WebSocket message from its frames into a pooled buffer that grows by doubling
/// up to the message size limit, and never past it. With a <see cref="MemoryBudget"/>, every array
/// larger than the first is reserved from it before it is rented (<see cref="EnsureReservedAsync"/>):
/// a connection that cannot get the bytes waits before it reads more. The first array (a few KB,
/// kept only while a client streams) is the connection's own, bounded by the connection limit.
/// </summary>
/// <remarks>
/// Every byte at or after <c>_cleanFrom</c> is kept zero. When the WebSocket layer rejects a text
/// chunk as invalid UTF-8 it has already copied the chunk into the buffer but does not say how many
/// bytes: the zeroed tail lets <see cref="RecoverUnreportedBytes"/> find them, so that the
/// dead-letter record holds what the client sent (up to trailing NUL bytes).
/// </remarks>
internal sealed class MessageBuffer(int initialSize, int maxSize, MemoryBudget? budget = null) : IDisposable
{
    /// <summary>Arrays up to this size come from the shared pool.</summary>
    private const int LargestPooled = 64 * 1024;

    private byte[]? _buffer;
    private int _length;
    private int _cleanFrom;
    private long _reserved; // budget bytes held for _buffer (its length when larger than the first)
    private long _pending; // budget bytes held for the next array (reserved, not rented yet)

    /// <summary>Bytes of the current message so far.</summary>
    public int Length => _length;

    public int MaxSize => maxSize;

    public bool IsFull => _length == maxSize;

    public ReadOnlySpan<byte> Span => _buffer.AsSpan(0, _length);

    public ReadOnlyMemory<byte> Memory => _buffer.AsMemory(0, _length);

    /// <summary>Budget bytes this buffer holds now.</summary>
    public long Reserved => _reserved + _pending;

    /// <summary>
    /// Reserves from the budget what the next <see cref="GetReceiveMemory"/> needs when it grows
    /// the buffer past its first size, waiting for it if it must.
    /// </summary>
    public ValueTask EnsureReservedAsync(CancellationToken cancellationToken)
    {
        if (budget is null || NextArrayLength() is not { } next || next <= initialSize)
        {
            return ValueTask.CompletedTask;
        }

        var needed = PoolLength(next) - _pending;
        if (needed <= 0)
        {
            return ValueTask.CompletedTask;
        }

        var reserve = budget.ReserveAsync(needed, cancellationToken);
        if (reserve.IsCompletedSuccessfully)
        {
            _pending += needed;
            return ValueTask.CompletedTask;
        }

        return AwaitReserveAsync(reserve, needed);
    }

    /// <summary>Free space for the next receive, growing the buffer when it is full.</summary>
    public Memory<byte> GetReceiveMemory()
    {
        if (NextArrayLength() is { } next)
        {
            var array = Rent(next);
            var budgeted = budget is not null && next > initialSize;
            if (budgeted)
            {
                if (_pending < array.Length)
                {
                    Return(array);
                    throw new InvalidOperationException("EnsureReservedAsync must reserve the bytes before GetReceiveMemory.");
                }

                budget!.Release(_pending - array.Length); // the pool gave less than the power of two reserved
                _pending = 0;
            }

            if (_buffer is null)
            {
                Array.Clear(array);
                _cleanFrom = 0;
            }
            else
            {
                _buffer.AsSpan(0, _length).CopyTo(array);
                Array.Clear(array, _length, array.Length - _length);
                ReturnArray();
                _cleanFrom = _length;
            }

            _buffer = array;
            _reserved = budgeted ? array.Length : 0;
        }

        var buffer = _buffer!; // rented above when there was none
        if (_cleanFrom > _length)
        {
            buffer.AsSpan(_length, _cleanFrom - _length).Clear();
            _cleanFrom = _length;
        }

        return buffer.AsMemory(_length, Math.Min(buffer.Length, maxSize) - _length);
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
    /// buffer goes back to the pool (and its budget bytes to the budget), so that an idle connection
    /// holds none (renting it again for the next message is a cheap pool hit). Only a buffer of
    /// the initial size is kept, and only its used bytes are cleared, lazily.
    /// </summary>
    public void Reset(bool keepBuffer = false)
    {
        _length = 0;
        if (_buffer is not null && !(keepBuffer && _buffer.Length <= initialSize))
        {
            ReturnArray();
            _buffer = null;
        }

        // A reservation for growth the message no longer needs: the next message starts small.
        budget?.Release(_pending);
        _pending = 0;
    }

    public void Dispose()
    {
        if (_buffer is not null)
        {
            ReturnArray();
            _buffer = null;
        }

        budget?.Release(_pending);
        _pending = 0;
    }

    private void ReturnArray()
    {
        Return(_buffer!);
        budget?.Release(_reserved);
        _reserved = 0;
    }

    /// <summary>The length of the array the next receive needs, when it needs a new one.</summary>
    private int? NextArrayLength() =>
        _buffer is null ? Math.Min(initialSize, maxSize)
        : _length == _buffer.Length && _length < maxSize ? (int)Math.Min((long)_buffer.Length * 2, maxSize)
        : null;

    private async ValueTask AwaitReserveAsync(ValueTask reserve, long bytes)
    {
        await reserve.ConfigureAwait(false);
        _pending += bytes;
    }

    /// <summary>
    /// The array for <paramref name="length"/> bytes: pooled up to <see cref="LargestPooled"/>, where
    /// nearly every message fits; larger ones are allocated and left to the garbage collector, so
    /// that after a burst of large messages their memory can go back to the system (the shared pool
    /// would keep some of every size for good). Either way the length is a power of two.
    /// </summary>
    private static byte[] Rent(int length) =>
        length <= LargestPooled ? ArrayPool<byte>.Shared.Rent(length) : GC.AllocateUninitializedArray<byte>((int)PoolLength(length));

    private static void Return(byte[] array)
    {
        if (array.Length <= LargestPooled)
        {
            ArrayPool<byte>.Shared.Return(array);
        }
    }

    /// <summary>What <see cref="Rent"/> hands out for a request: the next power of two (at least 16).</summary>
    private static long PoolLength(int length) => BitOperations.RoundUpToPowerOf2((uint)Math.Max(length, 16));
}
