using Ingest.Gateway.Pipeline;
using Ingest.Gateway.WebSockets;

namespace Ingest.UnitTests.Limits;

/// <summary>
/// <see cref="MessageBuffer"/> against the reassembly budget: the first array is the connection's
/// own, every larger one is reserved in full before it is rented, and everything goes back.
/// </summary>
public sealed class MessageBufferBudgetTests
{
    private readonly CancellationToken _cancel = TestContext.Current.CancellationToken;

    [Fact]
    public async Task FirstArray_TakesNothingFromTheBudget()
    {
        var budget = new MemoryBudget(1 << 20);
        using var buffer = new MessageBuffer(64, 4096, budget);

        await buffer.EnsureReservedAsync(_cancel);
        var memory = buffer.GetReceiveMemory();

        Assert.Equal(64, memory.Length);
        Assert.Equal(0, budget.InUse);
        Assert.Equal(0, buffer.Reserved);
    }

    [Fact]
    public async Task Growth_ReservesTheNextArrayInFullBeforeRentingIt()
    {
        var budget = new MemoryBudget(1 << 20);
        using var buffer = new MessageBuffer(64, 4096, budget);
        await FillAsync(buffer, 64);

        await buffer.EnsureReservedAsync(_cancel);

        Assert.Equal(128, budget.InUse); // reserved, not rented yet
        Assert.Equal(128, buffer.Reserved);
        var memory = buffer.GetReceiveMemory();
        Assert.Equal(64, memory.Length);
        Assert.Equal(128, budget.InUse);

        // The next growth holds the old array's bytes and the new one's while it copies.
        Fill(buffer, 64);
        await buffer.EnsureReservedAsync(_cancel);
        Assert.Equal(128 + 256, budget.InUse);
        buffer.GetReceiveMemory();
        Assert.Equal(256, budget.InUse);
        Assert.Equal(256, buffer.Reserved);
    }

    [Fact]
    public async Task Growth_WithoutBudget_WaitsUntilBytesAreGivenBack()
    {
        var budget = new MemoryBudget(200);
        using var buffer = new MessageBuffer(64, 4096, budget);
        await FillAsync(buffer, 64);
        Assert.True(budget.TryReserve(100)); // another connection's

        var reserve = buffer.EnsureReservedAsync(_cancel).AsTask();

        Assert.False(reserve.IsCompleted, "128 bytes were granted out of 100 free");
        budget.Release(100);
        await reserve.WaitAsync(TimeSpan.FromSeconds(10), _cancel);
        Assert.Equal(128, budget.InUse);
        Assert.Equal(64, buffer.GetReceiveMemory().Length);
    }

    [Fact]
    public async Task Growth_ToTheLimit_ReservesNoMoreThanTheLimitRoundedByThePool()
    {
        var budget = new MemoryBudget(1 << 20);
        using var buffer = new MessageBuffer(64, 1000, budget);

        while (!buffer.IsFull)
        {
            await FillAsync(buffer, buffer.MaxSize);
        }

        // 64 (own) -> 128 -> 256 -> 512 -> 1000 (a pool array of 1024).
        Assert.Equal(1000, buffer.Length);
        Assert.Equal(1024, budget.InUse);
        await buffer.EnsureReservedAsync(_cancel);
        Assert.Equal(1024, budget.InUse);
    }

    [Fact]
    public async Task Reset_AfterGrowth_GivesEveryByteBack()
    {
        var budget = new MemoryBudget(1 << 20);
        using var buffer = new MessageBuffer(64, 4096, budget);
        await FillAsync(buffer, 1000);
        Assert.True(budget.InUse > 0);

        buffer.Reset();

        Assert.Equal(0, budget.InUse);
        Assert.Equal(0, buffer.Reserved);
    }

    [Fact]
    public async Task Reset_KeepingTheBuffer_AfterGrowth_GivesEveryByteBack()
    {
        var budget = new MemoryBudget(1 << 20);
        using var buffer = new MessageBuffer(64, 4096, budget);
        await FillAsync(buffer, 1000);

        buffer.Reset(keepBuffer: true);

        Assert.Equal(0, budget.InUse);
    }

    [Fact]
    public async Task Reset_WithAReservationNotYetRented_GivesItBack()
    {
        var budget = new MemoryBudget(1 << 20);
        using var buffer = new MessageBuffer(64, 4096, budget);
        await FillAsync(buffer, 64);
        await buffer.EnsureReservedAsync(_cancel);
        Assert.Equal(128, budget.InUse);

        buffer.Reset();

        Assert.Equal(0, budget.InUse);
        Assert.Equal(0, buffer.Reserved);
    }

    [Fact]
    public async Task Dispose_AfterGrowth_AndWithAReservationNotYetRented_GivesEveryByteBack()
    {
        var budget = new MemoryBudget(1 << 20);
        var grown = new MessageBuffer(64, 4096, budget);
        await FillAsync(grown, 1000);
        var pending = new MessageBuffer(64, 4096, budget);
        await FillAsync(pending, 64);
        await pending.EnsureReservedAsync(_cancel);
        Assert.Equal(1024 + 128, budget.InUse);

        grown.Dispose();
        pending.Dispose();

        Assert.Equal(0, budget.InUse);
    }

    [Fact]
    public void GetReceiveMemory_GrowingWithoutEnsureReserved_Throws_AndTakesNothing()
    {
        var budget = new MemoryBudget(1 << 20);
        using var buffer = new MessageBuffer(64, 4096, budget);
        Fill(buffer, 64); // the first array needs no reservation

        Assert.Throws<InvalidOperationException>(() => buffer.GetReceiveMemory());

        Assert.Equal(0, budget.InUse);
        Assert.Equal(64, buffer.Length);
    }

    /// <summary>Receives <paramref name="bytes"/> bytes as the reader does: reserve, then receive.</summary>
    private async Task FillAsync(MessageBuffer buffer, int bytes)
    {
        var target = Math.Min(buffer.Length + bytes, buffer.MaxSize);
        while (buffer.Length < target)
        {
            await buffer.EnsureReservedAsync(_cancel);
            var memory = buffer.GetReceiveMemory();
            var count = Math.Min(memory.Length, target - buffer.Length);
            memory.Span[..count].Fill((byte)'x');
            buffer.Advance(count);
        }
    }

    /// <summary>Receives into the current array only (no growth, so no reservation is needed).</summary>
    private static void Fill(MessageBuffer buffer, int bytes)
    {
        var memory = buffer.GetReceiveMemory();
        memory.Span[..bytes].Fill((byte)'x');
        buffer.Advance(bytes);
    }
}
