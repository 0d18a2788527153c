using Ingest.Gateway.Pipeline;

namespace Ingest.UnitTests.Limits;

public sealed class TrimPolicyTests
{
    private const long MiB = 1024 * 1024;

    [Fact]
    public void AMessageBurst_IsTrimmedOnceTheBudgetsAreNearlyEmpty_ASmallOneNever()
    {
        var policy = new TrimPolicy(1_000);
        Assert.Null(policy.Next(10 * MiB, 0));
        Assert.Null(policy.Next(0, 0)); // 10 MiB at the peak: not worth a collection

        Assert.Null(policy.Next(64 * MiB, 0));
        Assert.Null(policy.Next(9 * MiB, 0)); // more than an eighth of the peak still in use
        Assert.Equal((TrimPolicy.Burst.Messages, 64 * MiB), policy.Next(8 * MiB, 0));
        Assert.Null(policy.Next(0, 0)); // once per burst
    }

    [Fact]
    public void AConnectionStorm_IsTrimmedOnceItStopsGrowing_OnceAndAgainOnlyAfterTheNextStorm()
    {
        var policy = new TrimPolicy(1_000);
        Assert.Null(policy.Next(0, 400));
        Assert.Null(policy.Next(0, 1_200)); // growing
        Assert.Equal((TrimPolicy.Burst.Connections, 1_200L), policy.Next(0, 1_200));
        Assert.Null(policy.Next(0, 1_200));

        Assert.Null(policy.Next(0, 2_000));
        Assert.Null(policy.Next(0, 2_000)); // 800 more: no storm
        Assert.Null(policy.Next(0, 2_300)); // 1,100 more, still growing
        Assert.Equal((TrimPolicy.Burst.Connections, 1_100L), policy.Next(0, 2_300));
    }

    [Fact]
    public void ConnectionsThatCloseAndReconnect_CountAsAStorm()
    {
        var policy = new TrimPolicy(1_000);
        Assert.Null(policy.Next(0, 5_000));
        Assert.NotNull(policy.Next(0, 5_000));

        // A reconnect storm: every client drops and comes back.
        Assert.Null(policy.Next(0, 100));
        Assert.Null(policy.Next(0, 5_000));
        Assert.Equal((TrimPolicy.Burst.Connections, 4_900L), policy.Next(0, 5_000));
    }

    [Fact]
    public void Zero_TurnsTheConnectionTrimOff()
    {
        var policy = new TrimPolicy(0);
        Assert.Null(policy.Next(0, 19_000));
        Assert.Null(policy.Next(0, 19_000));
        Assert.Null(policy.Next(64 * MiB, 19_000));
        Assert.Equal(TrimPolicy.Burst.Messages, policy.Next(0, 19_000)?.Kind);
    }
}
