using System.Net;
using Ingest.Gateway.Configuration;
using Ingest.Gateway.Lifecycle;
using Ingest.Gateway.Limits;
using Ingest.Gateway.WebSockets;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;

namespace Ingest.UnitTests.Limits;

/// <summary>
/// The allowance of rejected messages an address shares (<see cref="AddressRejects"/>), as the
/// <see cref="ConnectionRegistry"/> hands it out: the same one to every connection of an address,
/// kept after the last one closes until it has refilled, then forgotten.
/// </summary>
public sealed class AddressRejectsTests
{
    private static readonly IPAddress Attacker = IPAddress.Parse("192.0.2.7");
    private static readonly IPAddress Other = IPAddress.Parse("192.0.2.8");

    private readonly FakeTimeProvider _time = new(DateTimeOffset.FromUnixTimeMilliseconds(1_700_000_000_000));

    [Fact]
    public void ConnectionsOfOneAddress_ShareOneAllowance_OtherAddressesHaveTheirOwn()
    {
        var registry = NewRegistry(perSecond: 1, burst: 2);

        Assert.Equal(Admit.Yes, registry.TryAdd(Attacker, out var first));
        Assert.Equal(Admit.Yes, registry.TryAdd(IPAddress.Parse("192.0.2.7").MapToIPv6(), out var second)); // the same client over a dual-stack socket
        Assert.Equal(Admit.Yes, registry.TryAdd(Other, out var other));

        Assert.Same(first, second);
        Assert.True(first!.TryTake(_time.GetTimestamp()));
        Assert.True(second!.TryTake(_time.GetTimestamp()));
        Assert.False(first.TryTake(_time.GetTimestamp()));
        Assert.True(other!.TryTake(_time.GetTimestamp()));
    }

    [Fact]
    public void SpentAllowance_OutlivesTheConnections_UntilRefilled_ThenForgotten()
    {
        var registry = NewRegistry(perSecond: 10, burst: 5);
        registry.TryAdd(Attacker, out var rejects);
        for (var i = 0; i < 5; i++)
        {
            Assert.True(rejects!.TryTake(_time.GetTimestamp()));
        }

        registry.Remove(Attacker);
        Assert.Equal(1, registry.Remembered);

        registry.TryAdd(Attacker, out var again); // reconnects at once
        Assert.Same(rejects, again);
        Assert.False(again!.TryTake(_time.GetTimestamp()));
        Assert.Equal(0, registry.Remembered);
        registry.Remove(Attacker);

        _time.Advance(TimeSpan.FromMilliseconds(400)); // 4 of 5 back
        registry.Forget();
        Assert.Equal(1, registry.Remembered);

        _time.Advance(TimeSpan.FromMilliseconds(100));
        registry.Forget();
        Assert.Equal(0, registry.Remembered);
        registry.TryAdd(Attacker, out var fresh);
        Assert.NotSame(rejects, fresh);
    }

    [Fact]
    public void AnAddressThatRejectedNothing_IsForgottenWithItsLastConnection()
    {
        var registry = NewRegistry(perSecond: 1, burst: 2);
        registry.TryAdd(Attacker, out var rejects);
        registry.TryAdd(Attacker, out _);

        registry.Remove(Attacker);
        registry.Remove(Attacker);

        Assert.Equal(0, registry.Remembered);
        registry.TryAdd(Attacker, out var next);
        Assert.NotSame(rejects, next);
    }

    [Fact]
    public void BurstZero_TurnsTheAddressAllowanceOff()
    {
        var registry = NewRegistry(perSecond: 1, burst: 0);
        registry.TryAdd(Attacker, out var rejects);

        for (var i = 0; i < 1_000; i++)
        {
            Assert.True(rejects!.TryTake(_time.GetTimestamp()));
        }

        registry.Remove(Attacker);
        Assert.Equal(0, registry.Remembered);
    }

    [Fact]
    public void RememberedAddresses_CostWhatTheMemoryBudgetSays()
    {
        const int addresses = 10_000;
        var registry = NewRegistry(perSecond: 1, burst: 2);
        var keys = Enumerable.Range(0, addresses).Select(i => new IPAddress(0x0A000000u + (uint)i)).ToArray(); // made before measuring

        var before = GC.GetAllocatedBytesForCurrentThread();
        foreach (var key in keys)
        {
            registry.TryAdd(key, out var rejects);
            rejects!.TryTake(_time.GetTimestamp());
            registry.Remove(key);
        }

        var perAddress = (GC.GetAllocatedBytesForCurrentThread() - before) / (double)addresses;
        Assert.Equal(addresses, registry.Remembered);
        // What was allocated bounds what stays (the dictionary's outgrown arrays are garbage). With
        // the IPAddress the server made (40 bytes), at most the 300 bytes of docs/operations.md.
        Assert.InRange(perAddress + 40, 100, 300);
    }

    [Fact]
    public void UnknownAddress_HasNoAddressAllowance()
    {
        var registry = NewRegistry(perSecond: 1, burst: 2);

        Assert.Equal(Admit.Yes, registry.TryAdd(null, out var rejects));
        Assert.Null(rejects);
    }

    private ConnectionRegistry NewRegistry(double perSecond, int burst)
    {
        var settings = new IngestOptions();
        settings.Limits.InvalidMessagesPerSecondPerAddress = perSecond;
        settings.Limits.InvalidMessageBurstPerAddress = burst;
        var options = Options.Create(settings);
        return new ConnectionRegistry(ConnectionLimits.For(settings, 20_000), options, new ShutdownBudget(options, _time), _time);
    }
}
