using System.Text;
using System.Text.Json;
using Ingest.Gateway.Streaming;

namespace Ingest.UnitTests.Streaming;

/// <summary>The Server-Sent Events frames of <c>/stream</c>, byte for byte.</summary>
public sealed class StreamFramesTests
{
    [Fact]
    public void Telemetry_JsonValue_IsEmbeddedVerbatim_OnOneDataLine()
    {
        using var writer = new TelemetryFrameWriter();
        const string value = "{ \"msg\" : \"m \\u0031\",\"clientId\":\"c1\",\"timestamp\":1456862575765, \"extra\": [1, {\"x\": null}] }";

        var frame = writer.Write(3, 1234, 1700000000123, 1700000000456, "c1", Encoding.UTF8.GetBytes(value));

        Assert.Equal(
            "id: 3:1234\nevent: telemetry\ndata: {\"partition\":3,\"offset\":1234,\"timestamp\":1700000000123,\"receivedAt\":1700000000456,\"clientId\":\"c1\",\"event\":" + value + "}\n\n",
            Encoding.UTF8.GetString(frame));
    }

    [Theory]
    [InlineData("not json")]
    [InlineData("{\"a\":1} trailing")]
    [InlineData("{\"a\":1}{\"b\":2}")]
    [InlineData("{\"a\":")]
    [InlineData("")]
    [InlineData("   ")]
    [InlineData("{\"a\":1,}")]
    [InlineData("// comment\n{}")]
    public void Telemetry_ValueThatIsNotOneJsonValue_IsSentAsAJsonString(string value)
    {
        using var writer = new TelemetryFrameWriter();

        var data = Data(writer.Write(0, 7, 1, null, "k", Encoding.UTF8.GetBytes(value)));

        using var document = JsonDocument.Parse(data);
        Assert.Equal(JsonValueKind.String, document.RootElement.GetProperty("event").ValueKind);
        Assert.Equal(value, document.RootElement.GetProperty("event").GetString());
    }

    [Fact]
    public void Telemetry_InvalidUtf8_IsSentAsAStringWithReplacementCharacters()
    {
        using var writer = new TelemetryFrameWriter();
        byte[] value = [(byte)'{', (byte)'"', 0xC3, (byte)'"', (byte)':', (byte)'1', (byte)'}'];

        var data = Data(writer.Write(0, 7, 1, null, "k", value));

        using var document = JsonDocument.Parse(data);
        Assert.Equal("{\"\uFFFD\":1}", document.RootElement.GetProperty("event").GetString());
    }

    [Fact]
    public void Telemetry_NoKeyNoValueNoTimestampNoHeader_AreNulls()
    {
        using var writer = new TelemetryFrameWriter();

        var data = Data(writer.Write(1, 2, null, null, null, null));

        Assert.Equal("{\"partition\":1,\"offset\":2,\"timestamp\":null,\"receivedAt\":null,\"clientId\":null,\"event\":null}", data);
    }

    [Fact]
    public void Telemetry_ClientIdWithQuotesAndNonAscii_IsEscapedOnlyAsJsonRequires()
    {
        using var writer = new TelemetryFrameWriter();

        var data = Data(writer.Write(0, 0, 5, 6, "b\u00e9ta \"q\"\n", Encoding.UTF8.GetBytes("{}")));

        Assert.Contains("\"clientId\":\"b\u00e9ta \\\"q\\\"\\n\"", data, StringComparison.Ordinal);
        using var document = JsonDocument.Parse(data);
        Assert.Equal("b\u00e9ta \"q\"\n", document.RootElement.GetProperty("clientId").GetString());
    }

    [Fact]
    public void Telemetry_ValueWithLineBreaks_GetsOneDataLinePerLine_WhichJoinBackToTheValue()
    {
        using var writer = new TelemetryFrameWriter();
        const string value = "{\n  \"msg\": \"m\",\r\n  \"clientId\": \"c\",\r  \"timestamp\": 1\n}";

        var text = Encoding.UTF8.GetString(writer.Write(0, 1, 1, 1, "c", Encoding.UTF8.GetBytes(value)));

        var lines = text.Split('\n');
        Assert.Equal(["id: 0:1", "event: telemetry"], lines[..2]);
        var dataLines = lines[2..^2];
        Assert.Equal(5, dataLines.Length); // four line breaks (LF, CRLF, CR, LF)
        Assert.All(dataLines, line => Assert.StartsWith("data: ", line, StringComparison.Ordinal));
        Assert.DoesNotContain('\r', text);
        Assert.Equal(["", ""], lines[^2..]);
        // What an EventSource hands to the page: the data lines joined with LF.
        var data = string.Join('\n', dataLines.Select(line => line["data: ".Length..]));
        using var document = JsonDocument.Parse(data);
        Assert.Equal(value.Replace("\r\n", "\n", StringComparison.Ordinal).Replace('\r', '\n'), document.RootElement.GetProperty("event").GetRawText());
    }

    [Fact]
    public void Telemetry_WriterReused_EachFrameStandsAlone()
    {
        using var writer = new TelemetryFrameWriter();
        writer.Write(5, 99999, 1, 1, "a long client id", Encoding.UTF8.GetBytes("{\"long\":\"" + new string('x', 5000) + "\"}"));

        var frame = writer.Write(1, 2, 3, 4, "k", Encoding.UTF8.GetBytes("[]"));

        Assert.Equal("id: 1:2\nevent: telemetry\ndata: {\"partition\":1,\"offset\":2,\"timestamp\":3,\"receivedAt\":4,\"clientId\":\"k\",\"event\":[]}\n\n", Encoding.UTF8.GetString(frame));
    }

    [Fact]
    public void Ready_Unfiltered_AndFiltered()
    {
        Assert.Equal("event: ready\ndata: {\"clientId\":null}\n\n", Encoding.UTF8.GetString(StreamFrames.Ready(null)));
        Assert.Equal("event: ready\ndata: {\"clientId\":\"c \\\"1\\\"\"}\n\n", Encoding.UTF8.GetString(StreamFrames.Ready("c \"1\"")));
    }

    [Fact]
    public void Dropped_Retry_Heartbeat()
    {
        Assert.Equal("event: dropped\ndata: {\"dropped\":42}\n\n", Encoding.UTF8.GetString(StreamFrames.Dropped(42)));
        Assert.Equal("retry: 2000\n\n", Encoding.UTF8.GetString(StreamFrames.Retry));
        Assert.Equal(": heartbeat\n\n", Encoding.UTF8.GetString(StreamFrames.Heartbeat));
    }

    /// <summary>The frame's one data line.</summary>
    private static string Data(byte[] frame)
    {
        var text = Encoding.UTF8.GetString(frame);
        var line = Assert.Single(text.Split('\n'), l => l.StartsWith("data: ", StringComparison.Ordinal));
        return line["data: ".Length..];
    }
}
