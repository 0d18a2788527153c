using System.Text;
using System.Text.Json;
using Ingest.Contracts;

namespace Ingest.UnitTests.Contracts;

/// <summary>The "Server to client" frames of the wire contract.</summary>
public sealed class ServerFramesTests
{
    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(42)]
    [InlineData(1_000_000_007)]
    [InlineData(long.MaxValue)]
    public void WriteAck_AnyCount_WritesTheContractFrame(long upTo)
    {
        var destination = new byte[48];

        var written = ServerFrames.WriteAck(destination, upTo);

        Assert.Equal($"{{\"type\":\"ack\",\"upTo\":{upTo}}}", Encoding.UTF8.GetString(destination, 0, written));
        using var frame = JsonDocument.Parse(destination.AsMemory(0, written));
        Assert.Equal("ack", frame.RootElement.GetProperty("type").GetString());
        Assert.Equal(upTo, frame.RootElement.GetProperty("upTo").GetInt64());
    }

    [Fact]
    public void WriteAck_IntoALargerBuffer_LeavesTheRestUntouched()
    {
        var destination = Enumerable.Repeat((byte)'#', 64).ToArray();

        var written = ServerFrames.WriteAck(destination, 7);

        Assert.Equal("{\"type\":\"ack\",\"upTo\":7}".Length, written);
        Assert.All(destination[written..], b => Assert.Equal((byte)'#', b));
    }

    [Fact]
    public void WriteAck_RepeatedIntoOneBuffer_EachFrameStandsAlone()
    {
        var destination = new byte[48];
        ServerFrames.WriteAck(destination, 123_456_789);

        var written = ServerFrames.WriteAck(destination, 5);

        Assert.Equal("{\"type\":\"ack\",\"upTo\":5}", Encoding.UTF8.GetString(destination, 0, written));
    }

    [Fact]
    public void Error_SimpleMessage_WritesTheContractFrameInOrder()
    {
        var frame = ServerFrames.Error(7, "invalid_json", "line 1, byte 2: unexpected end");

        Assert.Equal("{\"type\":\"error\",\"seq\":7,\"code\":\"invalid_json\",\"message\":\"line 1, byte 2: unexpected end\"}", Encoding.UTF8.GetString(frame));
    }

    [Theory]
    [InlineData("quote \" backslash \\ slash /")]
    [InlineData("controls \n\r\t\b\f\u0001\u001f")]
    [InlineData("html <script>&'+</script>")]
    [InlineData("unicode \u00e9 \u4e2d \U0001F600")]
    [InlineData("")]
    public void Error_AnyMessage_IsValidJsonThatRoundTrips(string message)
    {
        var frame = ServerFrames.Error(long.MaxValue, "delivery_failed", message);

        using var document = JsonDocument.Parse(frame);
        var root = document.RootElement;
        Assert.Equal("error", root.GetProperty("type").GetString());
        Assert.Equal(long.MaxValue, root.GetProperty("seq").GetInt64());
        Assert.Equal("delivery_failed", root.GetProperty("code").GetString());
        Assert.Equal(message, root.GetProperty("message").GetString());
        Assert.Equal(["type", "seq", "code", "message"], root.EnumerateObject().Select(p => p.Name));
    }

    [Fact]
    public void Error_LongMessage_IsWrittenWhole()
    {
        var message = new string('x', 100_000);

        using var document = JsonDocument.Parse(ServerFrames.Error(1, "invalid_event", message));

        Assert.Equal(message, document.RootElement.GetProperty("message").GetString());
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1234)]
    [InlineData(600_000)]
    public void Draining_AnyDelay_WritesTheContractFrame(int reconnectAfterMs)
    {
        var frame = ServerFrames.Draining(reconnectAfterMs);

        Assert.Equal($"{{\"type\":\"draining\",\"reconnectAfterMs\":{reconnectAfterMs}}}", Encoding.UTF8.GetString(frame));
    }

    [Fact]
    public void Error_MessageWithQuotesAndApostrophes_EscapesOnlyWhatJsonRequires()
    {
        var frame = System.Text.Encoding.UTF8.GetString(ServerFrames.Error(1, "invalid_json", "'x' is \"bad\" <here>"));

        Assert.Equal("""{"type":"error","seq":1,"code":"invalid_json","message":"'x' is \"bad\" <here>"}""", frame);
    }
}
