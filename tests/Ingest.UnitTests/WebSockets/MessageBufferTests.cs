using System.Buffers;
using System.Runtime.InteropServices;
using Ingest.Gateway.WebSockets;

namespace Ingest.UnitTests.WebSockets;

public sealed class MessageBufferTests
{
    [Fact]
    public void GetReceiveMemory_First_OffersTheInitialSizeAndIsEmpty()
    {
        using var buffer = new MessageBuffer(64, 1024);

        var memory = buffer.GetReceiveMemory();

        Assert.Equal(64, memory.Length);
        Assert.Equal(0, buffer.Length);
        Assert.True(buffer.Span.IsEmpty);
        Assert.False(buffer.IsFull);
        Assert.Equal(1024, buffer.MaxSize);
    }

    [Fact]
    public void Advance_AfterReceives_SpanHoldsTheBytesInOrder()
    {
        using var buffer = new MessageBuffer(64, 1024);

        Receive(buffer, "hello, "u8);
        Receive(buffer, "world"u8);

        Assert.Equal("hello, world"u8.ToArray(), buffer.Span.ToArray());
        Assert.Equal("hello, world"u8.ToArray(), buffer.Memory.ToArray());
        Assert.Equal(12, buffer.Length);
    }

    [Fact]
    public void GetReceiveMemory_WhenFull_GrowsByDoublingAndKeepsTheBytes()
    {
        using var buffer = new MessageBuffer(16, 1 << 20);
        var expected = new List<byte>();
        var capacities = new List<int>();

        while (expected.Count < 1024)
        {
            var memory = buffer.GetReceiveMemory();
            capacities.Add(buffer.Length + memory.Length);
            var chunk = Pattern(expected.Count, memory.Length);
            chunk.CopyTo(memory);
            buffer.Advance(chunk.Length);
            expected.AddRange(chunk);
        }

        Assert.Equal(new[] { 16, 32, 64, 128, 256, 512, 1024 }, capacities);
        Assert.Equal(expected, buffer.Span.ToArray());
    }

    [Fact]
    public void GetReceiveMemory_PartlyFilled_DoesNotGrow()
    {
        using var buffer = new MessageBuffer(16, 1024);
        Receive(buffer, new byte[10]);

        Assert.Equal(6, buffer.GetReceiveMemory().Length);
    }

    [Theory]
    [InlineData(16, 1000)]
    [InlineData(16, 100)]
    [InlineData(64, 64)]
    [InlineData(4096, 100)]
    public void GetReceiveMemory_GrowingToTheLimit_StopsExactlyAtMaxSize(int initialSize, int maxSize)
    {
        using var buffer = new MessageBuffer(initialSize, maxSize);
        var expected = new List<byte>();

        for (var receives = 0; !buffer.IsFull; receives++)
        {
            Assert.True(receives < 64, "the buffer never filled");
            var memory = buffer.GetReceiveMemory();
            Assert.True(memory.Length > 0);
            Assert.True(buffer.Length + memory.Length <= maxSize, $"offered {buffer.Length + memory.Length} bytes, limit {maxSize}");
            var chunk = Pattern(expected.Count, memory.Length);
            chunk.CopyTo(memory);
            buffer.Advance(chunk.Length);
            expected.AddRange(chunk);
        }

        Assert.Equal(maxSize, buffer.Length);
        Assert.Equal(0, buffer.GetReceiveMemory().Length);
        Assert.Equal(expected, buffer.Span.ToArray());
    }

    [Fact]
    public void GetReceiveMemory_PooledArrayWasDirty_OffersZeroedMemory()
    {
        // ArrayPool.Shared hands the array just returned on this thread back out: make it dirty.
        var dirty = ArrayPool<byte>.Shared.Rent(256);
        dirty.AsSpan().Fill(0xAB);
        ArrayPool<byte>.Shared.Return(dirty);
        using var buffer = new MessageBuffer(256, 4096);

        var memory = buffer.GetReceiveMemory();

        Assert.Equal(-1, memory.Span.IndexOfAnyExcept((byte)0));
    }

    [Fact]
    public void GetReceiveMemory_AfterGrowthIntoADirtyArray_OffersZeroedMemory()
    {
        using var buffer = new MessageBuffer(16, 4096);
        Receive(buffer, Pattern(0, 16));
        var dirty = ArrayPool<byte>.Shared.Rent(32);
        dirty.AsSpan().Fill(0xCD);
        ArrayPool<byte>.Shared.Return(dirty);

        var memory = buffer.GetReceiveMemory();

        Assert.Equal(16, memory.Length);
        Assert.Equal(-1, memory.Span.IndexOfAnyExcept((byte)0));
        Assert.Equal(Pattern(0, 16), buffer.Span.ToArray());
    }

    [Fact]
    public void Reset_AfterGrowth_ShrinksBackToTheInitialSize()
    {
        using var buffer = new MessageBuffer(16, 4096);
        for (var i = 0; i < 5; i++)
        {
            Receive(buffer, Pattern(buffer.Length, buffer.GetReceiveMemory().Length));
        }

        Assert.Equal(256, buffer.Length);
        Assert.Equal(512, buffer.Length + buffer.GetReceiveMemory().Length);

        buffer.Reset();

        Assert.Equal(0, buffer.Length);
        Assert.True(buffer.Span.IsEmpty);
        var memory = buffer.GetReceiveMemory();
        Assert.Equal(16, memory.Length);
        Assert.Equal(-1, memory.Span.IndexOfAnyExcept((byte)0));
    }

    [Fact]
    public void Reset_WithoutGrowth_NextMessageStartsEmptyOnAZeroedBuffer()
    {
        using var buffer = new MessageBuffer(64, 4096);
        Receive(buffer, "a previous message"u8);

        buffer.Reset();

        Assert.Equal(0, buffer.Length);
        var memory = buffer.GetReceiveMemory();
        Assert.Equal(64, memory.Length);
        Assert.Equal(-1, memory.Span.IndexOfAnyExcept((byte)0));
    }

    [Fact]
    public void Reset_KeepingTheBuffer_NextMessageGetsTheSameBufferZeroed()
    {
        using var buffer = new MessageBuffer(64, 4096);
        Receive(buffer, "a previous message"u8);
        var before = buffer.GetReceiveMemory();

        buffer.Reset(keepBuffer: true);

        var memory = buffer.GetReceiveMemory();
        Assert.True(MemoryMarshal.TryGetArray<byte>(memory, out var kept));
        Assert.True(MemoryMarshal.TryGetArray<byte>(before, out var previous));
        Assert.Same(previous.Array, kept.Array);
        Assert.Equal(64, memory.Length);
        Assert.Equal(-1, memory.Span.IndexOfAnyExcept((byte)0));
    }

    [Fact]
    public void Reset_KeepingAGrownBuffer_ReturnsItAndStartsAtTheInitialSize()
    {
        using var buffer = new MessageBuffer(16, 4096);
        Receive(buffer, Pattern(0, 16));
        Receive(buffer, Pattern(16, 16));

        buffer.Reset(keepBuffer: true);

        var memory = buffer.GetReceiveMemory();
        Assert.Equal(16, memory.Length);
        Assert.Equal(-1, memory.Span.IndexOfAnyExcept((byte)0));
    }

    [Fact]
    public void RecoverUnreportedBytes_AfterAKeptBuffer_DoesNotResurrectOldBytes()
    {
        using var buffer = new MessageBuffer(64, 4096);
        Receive(buffer, "0123456789012345678901234567890123456789"u8);
        buffer.Reset(keepBuffer: true);

        "xy"u8.CopyTo(buffer.GetReceiveMemory().Span);
        buffer.RecoverUnreportedBytes();

        Assert.Equal("xy"u8.ToArray(), buffer.Span.ToArray());
    }

    [Fact]
    public void RecoverUnreportedBytes_WriteWithoutAdvance_KeepsTheWrittenBytes()
    {
        using var buffer = new MessageBuffer(64, 4096);

        "hello"u8.CopyTo(buffer.GetReceiveMemory().Span);
        buffer.RecoverUnreportedBytes();

        Assert.Equal("hello"u8.ToArray(), buffer.Span.ToArray());
    }

    [Fact]
    public void RecoverUnreportedBytes_AfterReportedFrames_AppendsOnlyTheUnreportedBytes()
    {
        using var buffer = new MessageBuffer(16, 4096);
        Receive(buffer, Pattern(0, 16));
        Receive(buffer, Pattern(16, 10));

        "tail"u8.CopyTo(buffer.GetReceiveMemory().Span);
        buffer.RecoverUnreportedBytes();

        Assert.Equal(Pattern(0, 26).Concat("tail"u8.ToArray()), buffer.Span.ToArray());
    }

    [Fact]
    public void RecoverUnreportedBytes_AfterAShorterMessageFollowsALongerOne_DoesNotResurrectOldBytes()
    {
        using var buffer = new MessageBuffer(64, 4096);
        Receive(buffer, "0123456789012345678901234567890123456789"u8);
        buffer.Reset();

        "xy"u8.CopyTo(buffer.GetReceiveMemory().Span);
        buffer.RecoverUnreportedBytes();

        Assert.Equal("xy"u8.ToArray(), buffer.Span.ToArray());
    }

    [Fact]
    public void RecoverUnreportedBytes_AfterAShorterMessageFollowsAGrownOne_DoesNotResurrectOldBytes()
    {
        using var buffer = new MessageBuffer(16, 4096);
        Receive(buffer, Pattern(0, 16));
        Receive(buffer, Pattern(16, 16));
        buffer.Reset();

        "xy"u8.CopyTo(buffer.GetReceiveMemory().Span);
        buffer.RecoverUnreportedBytes();

        Assert.Equal("xy"u8.ToArray(), buffer.Span.ToArray());
    }

    [Fact]
    public void RecoverUnreportedBytes_InteriorZeroBytes_AreKept()
    {
        using var buffer = new MessageBuffer(64, 4096);

        new byte[] { 1, 0, 0, 2 }.CopyTo(buffer.GetReceiveMemory().Span);
        buffer.RecoverUnreportedBytes();

        Assert.Equal(new byte[] { 1, 0, 0, 2 }, buffer.Span.ToArray());
    }

    [Fact]
    public void RecoverUnreportedBytes_NothingWritten_KeepsTheLength()
    {
        using var buffer = new MessageBuffer(64, 4096);
        Receive(buffer, "abc"u8);

        buffer.GetReceiveMemory();
        buffer.RecoverUnreportedBytes();

        Assert.Equal("abc"u8.ToArray(), buffer.Span.ToArray());
    }

    [Fact]
    public void RecoverUnreportedBytes_BeforeAnyReceive_DoesNothing()
    {
        using var buffer = new MessageBuffer(64, 4096);

        buffer.RecoverUnreportedBytes();

        Assert.Equal(0, buffer.Length);
    }

    [Fact]
    public void RecoverUnreportedBytes_FillingTheBufferToTheLimit_StopsAtMaxSize()
    {
        using var buffer = new MessageBuffer(100, 100);

        Pattern(0, 100).CopyTo(buffer.GetReceiveMemory().Span);
        buffer.RecoverUnreportedBytes();

        Assert.Equal(100, buffer.Length);
        Assert.True(buffer.IsFull);
        Assert.Equal(Pattern(0, 100), buffer.Span.ToArray());
    }

    [Fact]
    public void Dispose_Twice_DoesNotThrow()
    {
        var buffer = new MessageBuffer(64, 4096);
        buffer.GetReceiveMemory();

        buffer.Dispose();
        buffer.Dispose();
    }

    private static void Receive(MessageBuffer buffer, ReadOnlySpan<byte> frame)
    {
        var memory = buffer.GetReceiveMemory();
        Assert.True(memory.Length >= frame.Length, $"room for {memory.Length} bytes, frame of {frame.Length}");
        frame.CopyTo(memory.Span);
        buffer.Advance(frame.Length);
    }

    /// <summary>Non-zero bytes that differ by position.</summary>
    private static byte[] Pattern(int offset, int length)
        => Enumerable.Range(offset, length).Select(i => (byte)(i % 251 + 1)).ToArray();
}
