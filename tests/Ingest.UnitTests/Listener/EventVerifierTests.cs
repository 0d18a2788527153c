using System.Text;
using Ingest.Listener.Verification;

namespace Ingest.UnitTests.Listener;

public sealed class EventVerifierTests
{
    [Fact]
    public void Observe_CleanStream_Passes()
    {
        var verifier = new EventVerifier();

        Observe(verifier, "a", 1, 100);
        Observe(verifier, "b", 1, 50);
        Observe(verifier, "a", 2, 200);
        Observe(verifier, "a", 3, 200); // equal timestamps are in order

        Assert.True(verifier.Passed);
        Assert.Equal(4, verifier.Total);
        Assert.Equal(4, verifier.Distinct);
        Assert.Equal([KeyValuePair.Create("a", 3L), KeyValuePair.Create("b", 1L)], verifier.CountsByClientId());
    }

    [Fact]
    public void Observe_SameKeyAndValueTwice_CountsADuplicate()
    {
        var verifier = new EventVerifier();

        Observe(verifier, "a", 1, 100);
        Observe(verifier, "a", 2, 200);
        Observe(verifier, "a", 1, 100);

        Assert.False(verifier.Passed);
        Assert.Equal(1, verifier.Duplicates);
        Assert.Equal(2, verifier.Distinct);
        // A resent event comes after newer ones: it is a duplicate, not also out of order.
        Assert.Equal(0, verifier.OutOfOrder);
        Assert.Contains(verifier.Examples, e => e.StartsWith("duplicate at 0/2: key a", StringComparison.Ordinal));
    }

    [Fact]
    public void Observe_SameValueUnderAnotherKey_IsNotADuplicate()
    {
        var verifier = new EventVerifier();
        var value = Encoding.UTF8.GetBytes("""{"msg":"m","clientId":"a","timestamp":1}""");

        verifier.Observe(0, 0, "a"u8, hasKey: true, value);
        verifier.Observe(0, 1, "b"u8, hasKey: true, value);
        verifier.Observe(0, 2, default, hasKey: false, value);

        Assert.Equal(0, verifier.Duplicates);
        Assert.Equal(3, verifier.Distinct);
    }

    [Fact]
    public void Observe_KeyAndValueBoundaryShifted_IsNotADuplicate()
    {
        var verifier = new EventVerifier();

        verifier.Observe(0, 0, "ab"u8, hasKey: true, """c{"timestamp":1}"""u8);
        verifier.Observe(0, 1, "abc"u8, hasKey: true, """{"timestamp":1}"""u8);

        Assert.Equal(0, verifier.Duplicates);
    }

    [Fact]
    public void Observe_TimestampGoingBackForOneClientId_CountsOutOfOrder()
    {
        var verifier = new EventVerifier();

        Observe(verifier, "a", 1, 100);
        Observe(verifier, "b", 1, 10);
        Observe(verifier, "a", 3, 300);
        Observe(verifier, "a", 2, 200);
        Observe(verifier, "a", 4, 400);

        Assert.False(verifier.Passed);
        Assert.Equal(1, verifier.OutOfOrder);
        Assert.Equal(0, verifier.Duplicates);
        Assert.Equal("out of order at 0/3: clientId a timestamp 200 after 300", Assert.Single(verifier.Examples));
    }

    [Fact]
    public void Observe_OlderTimestampOfAnotherClientId_IsInOrder()
    {
        var verifier = new EventVerifier();

        Observe(verifier, "a", 1, 500);
        Observe(verifier, "b", 1, 100);

        Assert.True(verifier.Passed);
    }

    [Theory]
    [InlineData("not json")]
    [InlineData("""{"msg":"m","clientId":"a"}""")]
    [InlineData("""{"msg":"m","clientId":"a","timestamp":1.5}""")]
    [InlineData("""{"msg":"m","clientId":"a","timestamp":"1"}""")]
    [InlineData("[1]")]
    public void Observe_ValueWithoutIntegerTimestamp_CountsAsNotAnEvent(string value)
    {
        var verifier = new EventVerifier();

        verifier.Observe(0, 0, "a"u8, hasKey: true, Encoding.UTF8.GetBytes(value));

        Assert.False(verifier.Passed);
        Assert.Equal(1, verifier.Invalid);
    }

    [Fact]
    public void Report_Failed_ListsCountsAndExamples()
    {
        var verifier = new EventVerifier();
        Observe(verifier, "a", 1, 100);
        Observe(verifier, "a", 1, 100);
        using var writer = new StringWriter();

        VerificationReport.Write(writer, verifier);

        var report = writer.ToString();
        Assert.StartsWith("verify: FAILED\n", report, StringComparison.Ordinal);
        Assert.Contains("  duplicates:   1\n", report, StringComparison.Ordinal);
        Assert.Contains("  clientIds:    1\n", report, StringComparison.Ordinal);
        Assert.Contains("           1  a\n", report, StringComparison.Ordinal);
    }

    [Fact]
    public void Report_ManyClientIds_SumsTheTail()
    {
        var verifier = new EventVerifier();
        for (var i = 0; i < VerificationReport.MaxClientLines + 5; i++)
        {
            Observe(verifier, $"c{i:000}", 1, 1);
        }

        using var writer = new StringWriter();
        VerificationReport.Write(writer, verifier);

        Assert.Contains("           5  (5 more clientIds)", writer.ToString(), StringComparison.Ordinal);
    }

    private static void Observe(EventVerifier verifier, string clientId, int number, long timestamp)
    {
        var value = Encoding.UTF8.GetBytes($$"""{"msg":"msg number {{number}}","clientId":"{{clientId}}","timestamp":{{timestamp}}}""");
        verifier.Observe(0, verifier.Total, Encoding.UTF8.GetBytes(clientId), hasKey: true, value);
    }
}
