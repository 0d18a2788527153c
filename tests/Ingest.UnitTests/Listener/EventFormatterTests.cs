using System.Text;
using System.Text.Json;
using Confluent.Kafka;
using Ingest.Contracts;
using Ingest.Listener.Output;

namespace Ingest.UnitTests.Listener;

public sealed class EventFormatterTests
{
    private const string Event = """{"msg":"msg number 1","clientId":"client 1","timestamp":1456862575765}""";
    private const string TraceParent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    [Fact]
    public void Text_Event_PrintsTimePartitionOffsetAndFields()
    {
        var line = Formatter(EventFormat.Text).Format(Record(Event));

        Assert.Equal("""2024-05-06T07:08:09.010Z 3/42 clientId="client 1" msg="msg number 1" timestamp=1456862575765""", line);
    }

    [Fact]
    public void Text_BareValues_AreNotQuoted()
    {
        var line = Formatter(EventFormat.Text).Format(Record("""{"msg":"hi","clientId":"c1","timestamp":5}"""));

        Assert.EndsWith(" clientId=c1 msg=hi timestamp=5", line, StringComparison.Ordinal);
    }

    [Fact]
    public void Text_ControlCharacters_AreEscapedSoTheEventStaysOnOneLineAndCannotStyleTheTerminal()
    {
        var line = Formatter(EventFormat.Text).Format(Record("""{"msg":"a\nb\u001b[31mc\"d\u202e","clientId":"x","timestamp":1}"""));

        Assert.Contains("""msg="a\nb\u001b[31mc\"d\u202e" """.TrimEnd(), line, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', line);
        Assert.DoesNotContain('\u001b', line);
    }

    [Fact]
    public void Text_WithHeaders_AppendsEveryHeader()
    {
        var line = Formatter(EventFormat.Text, headers: true).Format(Record(Event));

        Assert.EndsWith(" ingest-received-at=1700000000000 ingest-connection=conn-1 ingest-gateway=\"gw 1\"", line, StringComparison.Ordinal);
    }

    [Fact]
    public void Text_WithoutHeaders_LeavesThemOut()
    {
        var line = Formatter(EventFormat.Text).Format(Record(Event));

        Assert.DoesNotContain("ingest-", line, StringComparison.Ordinal);
    }

    [Fact]
    public void Text_ValueThatIsNotAnEvent_IsShownEscapedWithItsKey()
    {
        var line = Formatter(EventFormat.Text).Format(Record("not json\r\n", key: "k"));

        Assert.EndsWith(""" key=k value="not json\r\n" """.TrimEnd(), line, StringComparison.Ordinal);
    }

    [Fact]
    public void Text_Colour_WrapsFieldsInSgrCodesOnlyWhenAsked()
    {
        var plain = Formatter(EventFormat.Text).Format(Record(Event));
        var coloured = Formatter(EventFormat.Text, colour: true).Format(Record(Event));

        Assert.DoesNotContain('\u001b', plain);
        Assert.Contains(Ansi.Yellow + "\"client 1\"" + Ansi.Reset, coloured, StringComparison.Ordinal);
        Assert.Equal(plain, StripAnsi(coloured));
    }

    [Fact]
    public void Json_Event_IsTheRawValue()
    {
        const string spaced = """{ "clientId" : "client 1", "msg":"é", "timestamp":1, "extra":[1,2] }""";

        Assert.Equal(spaced, Formatter(EventFormat.Json).Format(Record(spaced)));
    }

    [Fact]
    public void Json_ValueSpreadOverLines_IsCompactedToOneLine()
    {
        var line = Formatter(EventFormat.Json).Format(Record("{\"msg\":\"a\",\r\n\t\"clientId\":\"b\",\n\"timestamp\":1}"));

        Assert.Equal("""{"msg":"a","clientId":"b","timestamp":1}""", line);
    }

    [Fact]
    public void Json_WithHeaders_WrapsTheValueInAnEnvelope()
    {
        var line = Formatter(EventFormat.Json, headers: true).Format(Record(Event));

        using var document = JsonDocument.Parse(line);
        var root = document.RootElement;
        Assert.Equal("events", root.GetProperty("topic").GetString());
        Assert.Equal(3, root.GetProperty("partition").GetInt32());
        Assert.Equal(42, root.GetProperty("offset").GetInt64());
        Assert.Equal(1714979289010, root.GetProperty("timestamp").GetInt64());
        Assert.Equal("client 1", root.GetProperty("key").GetString());
        Assert.Equal("conn-1", root.GetProperty("headers").GetProperty(IngestHeaders.Connection).GetString());
        Assert.Equal(Event, root.GetProperty("value").GetRawText());
    }

    [Fact]
    public void DeadLetter_Text_PutsTheErrorHeadersFirstAndTruncatesLongValues()
    {
        var raw = new string('x', EventFormatter.MaxDeadLetterValueChars + 100);
        var record = Record(raw, key: null, (IngestHeaders.Error, ErrorCodes.MessageTooLarge), (IngestHeaders.ErrorDetail, "over 1048576 bytes"));

        var line = Formatter(EventFormat.Text, deadLetter: true).Format(record);

        Assert.StartsWith(
            "2024-05-06T07:08:09.010Z 3/42 ingest-error=message_too_large ingest-error-detail=\"over 1048576 bytes\" value=" + new string('x', EventFormatter.MaxDeadLetterValueChars) + " valueBytes=612 ",
            line,
            StringComparison.Ordinal);
        Assert.EndsWith(" ingest-gateway=\"gw 1\"", line, StringComparison.Ordinal);
    }

    [Fact]
    public void DeadLetter_Json_ValueThatIsNotJson_BecomesAJsonString()
    {
        var record = Record("{not json", key: null, (IngestHeaders.Error, ErrorCodes.InvalidJson), (IngestHeaders.ErrorDetail, "bad"));

        var line = Formatter(EventFormat.Json, deadLetter: true).Format(record);

        using var document = JsonDocument.Parse(line);
        Assert.Equal("{not json", document.RootElement.GetProperty("value").GetString());
        Assert.Equal(ErrorCodes.InvalidJson, document.RootElement.GetProperty("headers").GetProperty(IngestHeaders.Error).GetString());
        Assert.Equal(JsonValueKind.Null, document.RootElement.GetProperty("key").ValueKind);
    }

    [Fact]
    public void Write_ManyRecords_WritesOneLineEach()
    {
        var formatter = Formatter(EventFormat.Json);
        using var writer = new StringWriter();

        for (var i = 0; i < 3; i++)
        {
            formatter.Write(writer, Record(Event));
        }

        Assert.Equal(string.Concat(Enumerable.Repeat(Event + "\n", 3)), writer.ToString());
    }

    [Fact]
    public void Text_ShowTrace_AppendsTheTraceParentOnce_EvenWithEveryHeader()
    {
        var record = Record(Event, extraHeaders: (IngestHeaders.TraceParent, TraceParent));

        Assert.EndsWith(" timestamp=1456862575765 traceparent=" + TraceParent, Formatter(EventFormat.Text, trace: true).Format(record), StringComparison.Ordinal);
        var withHeaders = Formatter(EventFormat.Text, headers: true, trace: true).Format(record);
        Assert.EndsWith(" timestamp=1456862575765 traceparent=" + TraceParent + " ingest-received-at=1700000000000 ingest-connection=conn-1 ingest-gateway=\"gw 1\"", withHeaders, StringComparison.Ordinal);
        Assert.DoesNotContain("traceparent", Formatter(EventFormat.Text).Format(record), StringComparison.Ordinal);
    }

    [Fact]
    public void Text_ShowTrace_RecordWithoutOne_ShowsNothingMore()
    {
        var line = Formatter(EventFormat.Text, trace: true).Format(Record(Event));

        Assert.Equal("""2024-05-06T07:08:09.010Z 3/42 clientId="client 1" msg="msg number 1" timestamp=1456862575765""", line);
    }

    [Fact]
    public void Json_ShowTrace_IsTheEnvelopeWithTraceParent_NullWhenTheRecordHasNone()
    {
        using (var traced = JsonDocument.Parse(Formatter(EventFormat.Json, trace: true).Format(Record(Event, extraHeaders: (IngestHeaders.TraceParent, TraceParent)))))
        {
            Assert.Equal(TraceParent, traced.RootElement.GetProperty("traceparent").GetString());
            Assert.Equal(Event, traced.RootElement.GetProperty("value").GetRawText());
        }

        using var untraced = JsonDocument.Parse(Formatter(EventFormat.Json, trace: true).Format(Record(Event)));
        Assert.Equal(JsonValueKind.Null, untraced.RootElement.GetProperty("traceparent").ValueKind);
    }

    private static EventFormatter Formatter(EventFormat format, bool headers = false, bool deadLetter = false, bool colour = false, bool trace = false) =>
        new(format, headers, deadLetter, colour, trace);

    private static ConsumeResult<byte[]?, byte[]?> Record(string value, string? key = "client 1", params (string Name, string Value)[] extraHeaders)
    {
        var headers = new Headers
        {
            { IngestHeaders.ReceivedAt, "1700000000000"u8.ToArray() },
            { IngestHeaders.Connection, "conn-1"u8.ToArray() },
            { IngestHeaders.Gateway, "gw 1"u8.ToArray() },
        };
        foreach (var (name, headerValue) in extraHeaders)
        {
            headers.Add(name, Encoding.UTF8.GetBytes(headerValue));
        }

        return new ConsumeResult<byte[]?, byte[]?>
        {
            Topic = "events",
            Partition = new Partition(3),
            Offset = new Offset(42),
            Message = new Message<byte[]?, byte[]?>
            {
                Key = key is null ? null : Encoding.UTF8.GetBytes(key),
                Value = Encoding.UTF8.GetBytes(value),
                Timestamp = new Timestamp(new DateTime(2024, 5, 6, 7, 8, 9, 10, DateTimeKind.Utc)),
                Headers = headers,
            },
        };
    }

    private static string StripAnsi(string text) => System.Text.RegularExpressions.Regex.Replace(text, "\u001b\\[[0-9;]*m", "");
}
