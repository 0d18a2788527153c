using System.Text;
using Ingest.Contracts;

namespace Ingest.UnitTests.Contracts;

/// <summary>
/// <see cref="ServerFrame.Parse"/>: how the harness and the tests read the gateway's frames, so it
/// reads exactly what <see cref="ServerFrames"/> writes, and nothing else as a frame of the contract.
/// </summary>
public sealed class ServerFrameTests
{
    [Theory]
    [InlineData(0)]
    [InlineData(42)]
    [InlineData(long.MaxValue)]
    public void Parse_Ack_AsWritten(long upTo)
    {
        var destination = new byte[ServerFrames.MaxAckLength];
        var written = ServerFrames.WriteAck(destination, upTo);

        Assert.Equal(new ServerFrame(ServerFrameType.Ack, upTo, 0, null, null, 0), ServerFrame.Parse(destination.AsSpan(0, written)));
    }

    [Fact]
    public void Parse_Error_AsWritten()
    {
        const string message = "quote \" backslash \\ controls \n\t unicode \u00e9 \U0001F600";

        var frame = ServerFrame.Parse(ServerFrames.Error(7, ErrorCodes.InvalidEvent, message));

        Assert.Equal(new ServerFrame(ServerFrameType.Error, 0, 7, ErrorCodes.InvalidEvent, message, 0), frame);
    }

    [Fact]
    public void Parse_Draining_AsWritten()
    {
        Assert.Equal(new ServerFrame(ServerFrameType.Draining, 0, 0, null, null, 1234), ServerFrame.Parse(ServerFrames.Draining(1234)));
    }

    [Fact]
    public void Parse_PropertiesInAnyOrder_AndUnknownOnesSkipped()
    {
        var frame = ServerFrame.Parse("""{"extra":{"nested":[1,{"upTo":9}]},"upTo":5,"type":"ack","more":"x"}"""u8);

        Assert.Equal(new ServerFrame(ServerFrameType.Ack, 5, 0, null, null, 0), frame);
    }

    [Theory]
    [InlineData("""{"type":"hello","upTo":1}""")]
    [InlineData("""{"type":"ACK","upTo":1}""")]
    [InlineData("""{"upTo":1}""")]
    [InlineData("""{"type":1}""")]
    [InlineData("""{"type":"ack","upTo":"1"}""")]
    [InlineData("""{"type":"ack","upTo":1.5}""")]
    [InlineData("""[{"type":"ack","upTo":1}]""")]
    [InlineData("""{"type":"ack","upTo":""")]
    [InlineData("not json")]
    [InlineData("")]
    public void Parse_AnythingElse_IsUnknown(string text)
    {
        Assert.Equal(ServerFrameType.Unknown, ServerFrame.Parse(Encoding.UTF8.GetBytes(text)).Type);
    }
}
