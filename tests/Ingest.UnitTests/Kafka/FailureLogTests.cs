using Ingest.Gateway.Kafka;
using Microsoft.Extensions.Time.Testing;

namespace Ingest.UnitTests.Kafka;

/// <summary><see cref="FailureLog"/>: the first failure is logged at once, then one line per interval with the count since.</summary>
public sealed class FailureLogTests
{
    [Fact]
    public void FirstAtOnce_ThenAtMostOneLinePerInterval_CountingWhatWasNotLogged()
    {
        var time = new FakeTimeProvider(DateTimeOffset.FromUnixTimeMilliseconds(1_700_000_000_000));
        var log = new FailureLog(time);

        Assert.Equal(1L, log.Take());
        for (var i = 0; i < 500; i++)
        {
            Assert.Null(log.Take());
        }

        time.Advance(FailureLog.Interval - TimeSpan.FromMilliseconds(1));
        Assert.Null(log.Take());

        time.Advance(TimeSpan.FromMilliseconds(1));
        Assert.Equal(502L, log.Take()); // the 501 held back and this one
        Assert.Null(log.Take());
    }
}
