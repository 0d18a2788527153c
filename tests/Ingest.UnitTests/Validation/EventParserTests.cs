using System.Text;
using Ingest.Gateway.Validation;

namespace Ingest.UnitTests.Validation;

/// <summary>The "Client to server" section of the wire contract, line by line.</summary>
public sealed class EventParserTests
{
    private const string ContractExample = """{"msg":"msg number 1","clientId":"client 1","timestamp":1456862575765}""";

    private readonly EventParser _parser = new();

    // Shapes of a message

    [Fact]
    public void Parse_ContractExample_AcceptsOneEventWithExactBytesAndKey()
    {
        var message = Bytes(ContractExample);

        var reason = _parser.Parse(message);

        Assert.Equal(RejectReason.None, reason);
        var slice = Assert.Single(_parser.Events);
        Assert.Equal(0, slice.Start);
        Assert.Equal(message.Length, slice.Length);
        Assert.Equal("client 1", Encoding.UTF8.GetString(slice.Key));
        Assert.Equal("", _parser.ErrorMessage);
    }

    [Fact]
    public void Parse_SingleEventSurroundedByWhiteSpace_SliceExcludesTheWhiteSpace()
    {
        var message = Bytes(" \r\n\t" + ContractExample + "\n  ");

        Assert.Equal(RejectReason.None, _parser.Parse(message));

        var slice = Assert.Single(_parser.Events);
        Assert.Equal(4, slice.Start);
        Assert.Equal(Bytes(ContractExample), message.AsSpan(slice.Start, slice.Length).ToArray());
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(17)]
    [InlineData(999)]
    [InlineData(EventParser.MaxBatchSize)]
    public void Parse_BatchOf1To1000Events_AcceptsEveryEventInOrder(int count)
    {
        var events = Enumerable.Range(0, count).Select(i => Event(clientId: $"\"client {i}\"", extra: $",\"n\":{i}")).ToArray();
        var message = Bytes("[" + string.Join(",", events) + "]");

        Assert.Equal(RejectReason.None, _parser.Parse(message));

        Assert.Equal(count, _parser.Events.Count);
        for (var i = 0; i < count; i++)
        {
            var slice = _parser.Events[i];
            Assert.Equal(Bytes(events[i]), message.AsSpan(slice.Start, slice.Length).ToArray());
            Assert.Equal($"client {i}", Encoding.UTF8.GetString(slice.Key));
        }
    }

    [Fact]
    public void Parse_BatchOf1001Events_BatchTooLarge()
    {
        var reason = _parser.Parse(Batch(EventParser.MaxBatchSize + 1, _ => Event()));

        Assert.Equal(RejectReason.BatchTooLarge, reason);
        Assert.Equal("batch_too_large", reason.ToCode());
        Assert.Empty(_parser.Events);
        Assert.Contains("1001", _parser.ErrorMessage, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_EmptyArray_InvalidEvent()
    {
        Assert.Equal(RejectReason.InvalidEvent, _parser.Parse(Bytes("[]")));
        Assert.Empty(_parser.Events);
        Assert.NotEmpty(_parser.ErrorMessage);
    }

    [Theory]
    [InlineData("1")]
    [InlineData("-2.5e3")]
    [InlineData("\"x\"")]
    [InlineData("\"\"")]
    [InlineData("null")]
    [InlineData("true")]
    [InlineData("false")]
    [InlineData("  42  ")]
    public void Parse_Scalar_InvalidEvent(string message)
    {
        Assert.Equal(RejectReason.InvalidEvent, _parser.Parse(Bytes(message)));
        Assert.Empty(_parser.Events);
        Assert.NotEmpty(_parser.ErrorMessage);
    }

    [Theory]
    [InlineData("[1]")]
    [InlineData("[\"x\"]")]
    [InlineData("[null]")]
    [InlineData("[[]]")]
    [InlineData("[EVENT,true]")]
    [InlineData("[EVENT,[EVENT]]")]
    [InlineData("[[EVENT]]")]
    public void Parse_ArrayHoldingANonObject_InvalidEvent(string template)
    {
        var reason = _parser.Parse(Bytes(template.Replace("EVENT", ContractExample, StringComparison.Ordinal)));

        Assert.Equal(RejectReason.InvalidEvent, reason);
        Assert.Empty(_parser.Events);
    }

    [Fact]
    public void Parse_ArrayHoldingANonObject_ErrorNamesTheElementIndex()
    {
        Assert.Equal(RejectReason.InvalidEvent, _parser.Parse(Bytes($"[{ContractExample},{ContractExample},7]")));

        Assert.Contains("element 2", _parser.ErrorMessage, StringComparison.Ordinal);
    }

    // Invalid JSON

    [Theory]
    [InlineData("")]
    [InlineData(" ")]
    [InlineData(" \t\r\n ")]
    [InlineData("{")]
    [InlineData("[")]
    [InlineData("{\"msg\":\"m\",\"clientId\":\"c\",\"timestamp\":1")]
    [InlineData("{\"msg\":\"m\",\"clientId\":\"c\",\"timestamp\":")]
    [InlineData("{\"msg\":\"m\",\"clientId\":\"c")]
    [InlineData("[{\"msg\":\"m\",\"clientId\":\"c\",\"timestamp\":1}")]
    [InlineData("EVENTx")]
    [InlineData("EVENT}")]
    [InlineData("EVENT]")]
    [InlineData("EVENT,")]
    [InlineData("EVENT\0")]
    [InlineData("EVENT // a comment")]
    [InlineData("/* a comment */ EVENT")]
    [InlineData("{\"msg\":\"m\",/* c */\"clientId\":\"c\",\"timestamp\":1}")]
    [InlineData("{\"msg\":\"m\",\"clientId\":\"c\",\"timestamp\":1,}")]
    [InlineData("[EVENT,]")]
    [InlineData("[,EVENT]")]
    [InlineData("EVENTEVENT")]
    [InlineData("EVENT EVENT")]
    [InlineData("[EVENT] [EVENT]")]
    [InlineData("1 2")]
    [InlineData("{'msg':'m','clientId':'c','timestamp':1}")]
    [InlineData("{msg:\"m\",\"clientId\":\"c\",\"timestamp\":1}")]
    [InlineData("{\"msg\":\"m\",\"clientId\":\"c\",\"timestamp\":01}")]
    [InlineData("{\"msg\":\"m\",\"clientId\":\"c\",\"timestamp\":NaN}")]
    [InlineData("{\"msg\":\"m\",\"clientId\":\"c\",\"timestamp\":+1}")]
    [InlineData("{\"msg\":\"a\tb\",\"clientId\":\"c\",\"timestamp\":1}")]
    [InlineData("{\"msg\":\"\\x41\",\"clientId\":\"c\",\"timestamp\":1}")]
    [InlineData("{\"msg\":\"\\u12\",\"clientId\":\"c\",\"timestamp\":1}")]
    [InlineData("{\"msg\" \"m\",\"clientId\":\"c\",\"timestamp\":1}")]
    [InlineData("{\"msg\":\"m\" \"clientId\":\"c\",\"timestamp\":1}")]
    [InlineData("\uFEFFEVENT")]
    public void Parse_BrokenJson_InvalidJson(string template)
    {
        var reason = _parser.Parse(Bytes(template.Replace("EVENT", ContractExample, StringComparison.Ordinal)));

        Assert.Equal(RejectReason.InvalidJson, reason);
        Assert.Equal("invalid_json", reason.ToCode());
        Assert.Empty(_parser.Events);
        Assert.NotEmpty(_parser.ErrorMessage);
    }

    [Fact]
    public void Parse_EventNestingDeeperThan64_InvalidEvent()
    {
        var deep = new string('[', 70) + new string(']', 70);

        Assert.Equal(RejectReason.InvalidEvent, _parser.Parse(Bytes(Event(extra: $",\"deep\":{deep}"))));
        Assert.Equal("the event nests deeper than 64 levels", _parser.ErrorMessage);
    }

    [Theory]
    [InlineData(64, false, true)]
    [InlineData(64, true, true)]
    [InlineData(65, false, false)]
    [InlineData(65, true, false)]
    public void Parse_EventDepth_CountsTheEventObjectAsLevelOne_AloneOrInABatch(int levels, bool inBatch, bool valid)
    {
        // The event is level 1; "deep" holds levels - 1 nested objects.
        var nested = string.Concat(Enumerable.Repeat("{\"n\":", levels - 2)) + "{}" + new string('}', levels - 2);
        var message = Event(extra: $",\"deep\":{nested}");

        var reason = _parser.Parse(Bytes(inBatch ? $"[{message}]" : message));

        Assert.Equal(valid ? RejectReason.None : RejectReason.InvalidEvent, reason);
    }

    [Fact]
    public void Parse_NestingDeeperThanTheReaderFollows_InvalidJson()
    {
        var deep = new string('[', 1100) + new string(']', 1100);

        Assert.Equal(RejectReason.InvalidJson, _parser.Parse(Bytes(Event(extra: $",\"deep\":{deep}"))));
    }

    [Fact]
    public void Parse_TrailingGarbage_ErrorSaysWhere()
    {
        Assert.Equal(RejectReason.InvalidJson, _parser.Parse(Bytes(ContractExample + " x")));

        Assert.Contains("byte", _parser.ErrorMessage, StringComparison.Ordinal);
    }

    // clientId

    [Theory]
    [InlineData("{\"msg\":\"m\",\"timestamp\":1}")]
    [InlineData("{\"msg\":\"m\",\"clientid\":\"c\",\"timestamp\":1}")]
    [InlineData("{\"msg\":\"m\",\"ClientId\":\"c\",\"timestamp\":1}")]
    [InlineData("{\"msg\":\"m\",\"clientId \":\"c\",\"timestamp\":1}")]
    [InlineData("{\"msg\":\"m\",\"meta\":{\"clientId\":\"c\"},\"timestamp\":1}")]
    public void Parse_ClientIdMissing_InvalidEvent(string message)
    {
        Assert.Equal(RejectReason.InvalidEvent, _parser.Parse(Bytes(message)));

        Assert.Contains("clientId is missing", _parser.ErrorMessage, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("1")]
    [InlineData("0")]
    [InlineData("null")]
    [InlineData("true")]
    [InlineData("false")]
    [InlineData("{}")]
    [InlineData("{\"id\":\"c\"}")]
    [InlineData("[\"c\"]")]
    public void Parse_ClientIdNotAString_InvalidEvent(string clientId)
    {
        Assert.Equal(RejectReason.InvalidEvent, _parser.Parse(Bytes(Event(clientId: clientId))));

        Assert.Contains("clientId", _parser.ErrorMessage, StringComparison.Ordinal);
        Assert.Empty(_parser.Events);
    }

    [Fact]
    public void Parse_ClientIdEmpty_InvalidEvent()
    {
        Assert.Equal(RejectReason.InvalidEvent, _parser.Parse(Bytes(Event(clientId: "\"\""))));

        Assert.Contains("clientId must have 1 to 256 characters", _parser.ErrorMessage, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_ClientIdOfOneEscapedControlCharacter_AcceptedAsOneCharacter()
    {
        Assert.Equal(RejectReason.None, _parser.Parse(Bytes(Event(clientId: "\"\\u0000\""))));

        Assert.Equal(new byte[] { 0 }, Assert.Single(_parser.Events).Key);
    }

    [Theory]
    [InlineData("a", 1)]
    [InlineData("a", 255)]
    [InlineData("a", 256)]
    [InlineData("\u00e9", 256)] // 2 bytes each
    [InlineData("\u4e2d", 256)] // 3 bytes each
    [InlineData("\U0001F600", 256)] // 4 bytes each, a surrogate pair in UTF-16
    [InlineData("\U0001F600", 1)]
    public void Parse_ClientIdOf1To256ScalarValues_Accepted(string character, int count)
    {
        var clientId = string.Concat(Enumerable.Repeat(character, count));

        Assert.Equal(RejectReason.None, _parser.Parse(Bytes(Event(clientId: Quote(clientId)))));

        Assert.Equal(Bytes(clientId), Assert.Single(_parser.Events).Key);
    }

    [Theory]
    [InlineData("a")]
    [InlineData("\u00e9")]
    [InlineData("\u4e2d")]
    [InlineData("\U0001F600")]
    public void Parse_ClientIdOf257ScalarValues_InvalidEvent(string character)
    {
        var clientId = string.Concat(Enumerable.Repeat(character, 257));

        Assert.Equal(RejectReason.InvalidEvent, _parser.Parse(Bytes(Event(clientId: Quote(clientId)))));

        Assert.Contains("257", _parser.ErrorMessage, StringComparison.Ordinal);
        Assert.Empty(_parser.Events);
    }

    [Fact]
    public void Parse_ClientIdOf256EscapedSurrogatePairs_AcceptedAsEmoji()
    {
        var escaped = string.Concat(Enumerable.Repeat("\\ud83d\\ude00", 256));

        Assert.Equal(RejectReason.None, _parser.Parse(Bytes(Event(clientId: Quote(escaped)))));

        Assert.Equal(Bytes(string.Concat(Enumerable.Repeat("\U0001F600", 256))), Assert.Single(_parser.Events).Key);
    }

    [Fact]
    public void Parse_ClientIdOf257EscapedSurrogatePairs_InvalidEvent()
    {
        var escaped = string.Concat(Enumerable.Repeat("\\uD83D\\uDE00", 257));

        Assert.Equal(RejectReason.InvalidEvent, _parser.Parse(Bytes(Event(clientId: Quote(escaped)))));
    }

    [Fact]
    public void Parse_ClientIdOf256EscapedAsciiCharacters_AcceptedByUnescapedLength()
    {
        // 1536 bytes on the wire, 256 characters.
        var escaped = string.Concat(Enumerable.Repeat("\\u0041", 256));

        Assert.Equal(RejectReason.None, _parser.Parse(Bytes(Event(clientId: Quote(escaped)))));

        Assert.Equal(Bytes(new string('A', 256)), Assert.Single(_parser.Events).Key);
    }

    [Theory]
    [InlineData("cl\\u0069ent", "client")]
    [InlineData("\\u0063\\u006C\\u0069\\u0065\\u006E\\u0074", "client")]
    [InlineData("a\\\"b\\\\c\\/d", "a\"b\\c/d")]
    [InlineData("\\b\\f\\n\\r\\t", "\b\f\n\r\t")]
    [InlineData("\\u00e9t\\u00C9", "\u00e9t\u00c9")]
    [InlineData("x\\ud83d\\ude00y", "x\U0001F600y")]
    [InlineData("caf\u00e9", "caf\u00e9")]
    public void Parse_EscapedClientId_KeyIsTheUnescapedUtf8(string rawClientId, string expectedKey)
    {
        Assert.Equal(RejectReason.None, _parser.Parse(Bytes(Event(clientId: Quote(rawClientId)))));

        Assert.Equal(Bytes(expectedKey), Assert.Single(_parser.Events).Key);
    }

    [Theory]
    [InlineData("\\ud800")]
    [InlineData("\\udc00")]
    [InlineData("a\\ud83db")]
    [InlineData("\\ude00\\ud83d")]
    [InlineData("\\ud83d\\u0041")]
    public void Parse_ClientIdWithLoneSurrogateEscape_InvalidEvent(string rawClientId)
    {
        Assert.Equal(RejectReason.InvalidEvent, _parser.Parse(Bytes(Event(clientId: Quote(rawClientId)))));

        Assert.Contains("clientId", _parser.ErrorMessage, StringComparison.Ordinal);
        Assert.Empty(_parser.Events);
    }

    [Fact]
    public void Parse_ClientIdWithInvalidUtf8_InvalidEvent()
    {
        byte[] message = [.. Bytes("{\"msg\":\"m\",\"timestamp\":1,\"clientId\":\"a"), 0xC3, .. Bytes("\"}")];

        Assert.Equal(RejectReason.InvalidEvent, _parser.Parse(message));

        Assert.Contains("clientId", _parser.ErrorMessage, StringComparison.Ordinal);
    }

    // Property names

    [Theory]
    [InlineData("{\"\\u0063lientId\":\"c\",\"msg\":\"m\",\"timestamp\":1}")]
    [InlineData("{\"clientId\":\"c\",\"m\\u0073g\":\"m\",\"timestamp\":1}")]
    [InlineData("{\"clientId\":\"c\",\"msg\":\"m\",\"\\u0074imestam\\u0070\":1}")]
    [InlineData("{\"client\\u0049d\":\"c\",\"\\u006d\\u0073\\u0067\":\"m\",\"timestamp\":1}")]
    public void Parse_EscapedRequiredPropertyNames_ComparedAfterUnescaping(string message)
    {
        Assert.Equal(RejectReason.None, _parser.Parse(Bytes(message)));

        Assert.Equal("c"u8.ToArray(), Assert.Single(_parser.Events).Key);
    }

    [Theory]
    [InlineData("{\"clientId\":\"c\",\"clientId\":\"c\",\"msg\":\"m\",\"timestamp\":1}", "clientId")]
    [InlineData("{\"clientId\":\"a\",\"msg\":\"m\",\"timestamp\":1,\"clientId\":\"b\"}", "clientId")]
    [InlineData("{\"clientId\":\"a\",\"\\u0063lientId\":\"b\",\"msg\":\"m\",\"timestamp\":1}", "clientId")]
    [InlineData("{\"clientId\":\"c\",\"msg\":\"m\",\"msg\":\"m\",\"timestamp\":1}", "msg")]
    [InlineData("{\"clientId\":\"c\",\"msg\":\"m\",\"timestamp\":1,\"timestamp\":1}", "timestamp")]
    [InlineData("{\"clientId\":\"c\",\"msg\":\"m\",\"timestamp\":1,\"timestamp\":\"x\"}", "timestamp")]
    public void Parse_DuplicateRequiredProperty_InvalidEvent(string message, string property)
    {
        Assert.Equal(RejectReason.InvalidEvent, _parser.Parse(Bytes(message)));

        Assert.Contains($"duplicate property {property}", _parser.ErrorMessage, StringComparison.Ordinal);
        Assert.Empty(_parser.Events);
    }

    [Theory]
    [InlineData("\\ud800")]
    [InlineData("\\ud800x")]
    [InlineData("\\udc00")]
    [InlineData("\\ud83dlientId")]
    [InlineData("c\\udc00ientId")]
    [InlineData("\\ud800\\u0041BCDEFGHIJ")]
    [InlineData("m\\ud800uDC00")]
    [InlineData("\\uDBB1uDCCDxyz")]
    [InlineData("abcdef\\uDDC5")]
    public void Parse_ExtraPropertyNameWithLoneSurrogateEscape_AcceptedAsAnExtraProperty(string rawName)
    {
        // Valid JSON (RFC 8259 allows any \uXXXX); a name that is not valid Unicode equals no required name.
        var message = Bytes(Event(extra: $",{Quote(rawName)}:1"));

        Assert.Equal(RejectReason.None, _parser.Parse(message));

        Assert.Equal(message.Length, Assert.Single(_parser.Events).Length);
    }

    [Fact]
    public void Parse_OnlyPropertyNamesWithLoneSurrogateEscapes_InvalidEventNotAnException()
    {
        Assert.Equal(RejectReason.InvalidEvent, _parser.Parse(Bytes("[{\"\\ud800lientId\":\"c\",\"\\udc00sg\":\"m\",\"timestamp\":1}]")));

        Assert.Equal("event 0: clientId is missing", _parser.ErrorMessage);
    }

    [Fact]
    public void Parse_RequiredNamesInsideNestedValues_DoNotCountAsDuplicates()
    {
        var message = Event(extra: ",\"meta\":{\"clientId\":1,\"msg\":[],\"timestamp\":-1},\"list\":[{\"clientId\":null}]");

        Assert.Equal(RejectReason.None, _parser.Parse(Bytes(message)));

        Assert.Equal("c"u8.ToArray(), Assert.Single(_parser.Events).Key);
    }

    // msg

    [Theory]
    [InlineData("1")]
    [InlineData("null")]
    [InlineData("true")]
    [InlineData("{}")]
    [InlineData("[\"m\"]")]
    public void Parse_MsgNotAString_InvalidEvent(string msg)
    {
        Assert.Equal(RejectReason.InvalidEvent, _parser.Parse(Bytes(Event(msg: msg))));

        Assert.Contains("msg", _parser.ErrorMessage, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_MsgMissing_InvalidEvent()
    {
        Assert.Equal(RejectReason.InvalidEvent, _parser.Parse(Bytes("{\"clientId\":\"c\",\"timestamp\":1}")));

        Assert.Contains("msg is missing", _parser.ErrorMessage, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("\"\"")]
    [InlineData("\"\\ud800 lone surrogates are not checked in msg\"")]
    [InlineData("\"\\\"quoted\\\" \\u00e9\"")]
    public void Parse_MsgAnyString_Accepted(string msg)
    {
        Assert.Equal(RejectReason.None, _parser.Parse(Bytes(Event(msg: msg))));
    }

    // timestamp

    [Theory]
    [InlineData("0")]
    [InlineData("1")]
    [InlineData("1456862575765")]
    [InlineData("9223372036854775807")]
    public void Parse_TimestampIntegerFrom0To2Pow63Minus1_Accepted(string timestamp)
    {
        Assert.Equal(RejectReason.None, _parser.Parse(Bytes(Event(timestamp: timestamp))));
    }

    [Theory]
    [InlineData("9223372036854775808")]
    [InlineData("18446744073709551616")]
    [InlineData("99999999999999999999999999999")]
    [InlineData("-1")]
    [InlineData("-9223372036854775808")]
    [InlineData("1.0")]
    [InlineData("0.5")]
    [InlineData("1e3")]
    [InlineData("1E3")]
    [InlineData("1e+3")]
    [InlineData("1E-3")]
    [InlineData("1456862575765.0")]
    [InlineData("\"1456862575765\"")]
    [InlineData("null")]
    [InlineData("true")]
    [InlineData("{}")]
    [InlineData("[1]")]
    public void Parse_TimestampNotAnIntegerInRange_InvalidEvent(string timestamp)
    {
        Assert.Equal(RejectReason.InvalidEvent, _parser.Parse(Bytes(Event(timestamp: timestamp))));

        Assert.Contains("timestamp", _parser.ErrorMessage, StringComparison.Ordinal);
        Assert.Empty(_parser.Events);
    }

    [Fact]
    public void Parse_TimestampMissing_InvalidEvent()
    {
        Assert.Equal(RejectReason.InvalidEvent, _parser.Parse(Bytes("{\"clientId\":\"c\",\"msg\":\"m\"}")));

        Assert.Contains("timestamp is missing", _parser.ErrorMessage, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_EmptyObject_InvalidEvent()
    {
        Assert.Equal(RejectReason.InvalidEvent, _parser.Parse(Bytes("{}")));
    }

    // Extra properties and exact bytes

    [Fact]
    public void Parse_ExtraProperties_KeptAndEventBytesAreTheOriginalBytes()
    {
        const string ev = "{ \"extra\" : {\"a\":[1,2.5e-3,{\"b\":null}],\"c\":\"}\"} ,\r\n\t\"clientId\" : \"c\\u0031\" ,"
            + " \"msg\":\"h\\u00e9llo \\\"q\\\" ]}\", \"timestamp\" : 5 , \"arr\":[[],[{}]], \"\u00fc\":true }";
        var message = Bytes(ev);

        Assert.Equal(RejectReason.None, _parser.Parse(message));

        var slice = Assert.Single(_parser.Events);
        Assert.Equal(message, message.AsSpan(slice.Start, slice.Length).ToArray());
        Assert.Equal("c1"u8.ToArray(), slice.Key);
    }

    [Fact]
    public void Parse_BatchWithWhiteSpaceAndNestedValues_EachSliceIsExactlyItsObject()
    {
        string[] events =
        [
            "{\"clientId\":\"a\",\"msg\":\"[{,}]\",\"timestamp\":1,\"x\":{\"y\":[{}]}}",
            "{ \"timestamp\" : 2 ,\n \"msg\" : \"\\n\" , \"clientId\" : \"\\u0062\" }",
            "{\"nested\":[[[{\"clientId\":5}]]],\"clientId\":\"\u00e7\",\"msg\":\"\",\"timestamp\":0}",
        ];
        var text = "\n[ " + events[0] + " ,\r\n\t" + events[1] + "," + events[2] + "\n]\n";
        var message = Bytes(text);

        Assert.Equal(RejectReason.None, _parser.Parse(message));

        Assert.Equal(3, _parser.Events.Count);
        var searchFrom = 0;
        for (var i = 0; i < events.Length; i++)
        {
            var slice = _parser.Events[i];
            var expectedStart = message.AsSpan(searchFrom).IndexOf(Bytes(events[i])) + searchFrom;
            Assert.Equal(expectedStart, slice.Start);
            Assert.Equal(Bytes(events[i]), message.AsSpan(slice.Start, slice.Length).ToArray());
            searchFrom = slice.Start + slice.Length;
        }

        Assert.Equal(["a"u8.ToArray(), "b"u8.ToArray(), Bytes("\u00e7")], _parser.Events.Select(e => e.Key));
    }

    // Batches rejected whole

    [Fact]
    public void Parse_BatchWithOneInvalidEvent_RejectedWholeAndErrorNamesTheIndex()
    {
        var message = Batch(10, i => i == 7 ? Event(timestamp: "-1") : Event());

        Assert.Equal(RejectReason.InvalidEvent, _parser.Parse(message));

        Assert.Empty(_parser.Events);
        Assert.StartsWith("event 7: ", _parser.ErrorMessage, StringComparison.Ordinal);
        Assert.Contains("timestamp", _parser.ErrorMessage, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_BatchWithSeveralInvalidEvents_ReportsTheFirst()
    {
        var message = Batch(5, i => i switch
        {
            1 => Event(msg: "1"),
            3 => Event(clientId: "1"),
            _ => Event(),
        });

        Assert.Equal(RejectReason.InvalidEvent, _parser.Parse(message));

        Assert.StartsWith("event 1: msg", _parser.ErrorMessage, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_BatchWhoseLastEventIsInvalid_RejectedWhole()
    {
        var message = Batch(EventParser.MaxBatchSize, i => i == EventParser.MaxBatchSize - 1 ? "{}" : Event());

        Assert.Equal(RejectReason.InvalidEvent, _parser.Parse(message));

        Assert.Empty(_parser.Events);
        Assert.StartsWith("event 999: ", _parser.ErrorMessage, StringComparison.Ordinal);
    }

    // Precedence: invalid JSON anywhere > batch_too_large > first invalid event

    [Fact]
    public void Parse_1001ElementsWithASyntaxErrorAtTheEnd_InvalidJson()
    {
        var events = Enumerable.Repeat(Event(), EventParser.MaxBatchSize + 1);
        var message = Bytes("[" + string.Join(",", events) + ",]");

        Assert.Equal(RejectReason.InvalidJson, _parser.Parse(message));
    }

    [Fact]
    public void Parse_1001ElementsWithASyntaxErrorInsideALateEvent_InvalidJson()
    {
        var message = Batch(EventParser.MaxBatchSize + 1, i => i == EventParser.MaxBatchSize ? "{\"clientId\":\"c\" \"msg\":1}" : Event());

        Assert.Equal(RejectReason.InvalidJson, _parser.Parse(message));
    }

    [Fact]
    public void Parse_1001ElementsWithInvalidEvents_BatchTooLarge()
    {
        var message = Batch(EventParser.MaxBatchSize + 1, i => (i % 3) switch
        {
            0 => Event(timestamp: "1.5"),
            1 => "42",
            _ => Event(),
        });

        Assert.Equal(RejectReason.BatchTooLarge, _parser.Parse(message));
    }

    [Fact]
    public void Parse_1001ElementsFirstNotAnObject_BatchTooLarge()
    {
        var message = Batch(EventParser.MaxBatchSize + 1, i => i == 0 ? "null" : Event());

        Assert.Equal(RejectReason.BatchTooLarge, _parser.Parse(message));
    }

    [Fact]
    public void Parse_InvalidEventThenSyntaxError_InvalidJson()
    {
        var message = Bytes("[" + Event(clientId: "1") + "," + Event() + "," + "{\"a\":}]");

        Assert.Equal(RejectReason.InvalidJson, _parser.Parse(message));
    }

    [Fact]
    public void Parse_InvalidSingleEventFollowedByGarbage_InvalidJson()
    {
        Assert.Equal(RejectReason.InvalidJson, _parser.Parse(Bytes(Event(clientId: "\"\"") + "]")));
    }

    [Fact]
    public void Parse_ScalarFollowedByGarbage_InvalidJson()
    {
        Assert.Equal(RejectReason.InvalidJson, _parser.Parse(Bytes("1 x")));
    }

    // Reuse of one parser per connection

    [Fact]
    public void Parse_ValidAfterRejected_ClearsTheErrorAndHoldsOnlyTheNewEvents()
    {
        Assert.Equal(RejectReason.InvalidEvent, _parser.Parse(Bytes("[]")));

        Assert.Equal(RejectReason.None, _parser.Parse(Bytes(ContractExample)));

        Assert.Equal("", _parser.ErrorMessage);
        Assert.Single(_parser.Events);
    }

    [Fact]
    public void Parse_RejectedAfterValid_EventsEmpty()
    {
        Assert.Equal(RejectReason.None, _parser.Parse(Batch(3, _ => Event())));
        Assert.Equal(3, _parser.Events.Count);

        Assert.Equal(RejectReason.InvalidJson, _parser.Parse(Bytes("[")));

        Assert.Empty(_parser.Events);
    }

    [Fact]
    public void Parse_SameClientIdInLaterMessages_KeysKeepTheirValues()
    {
        Assert.Equal(RejectReason.None, _parser.Parse(Bytes(Event(clientId: "\"a\""))));
        var first = _parser.Events[0].Key;

        Assert.Equal(RejectReason.None, _parser.Parse(Bytes("[" + Event(clientId: "\"a\"") + "," + Event(clientId: "\"b\"") + "," + Event(clientId: "\"a\"") + "]")));

        Assert.Equal("a"u8.ToArray(), first);
        Assert.Equal(["a"u8.ToArray(), "b"u8.ToArray(), "a"u8.ToArray()], _parser.Events.Select(e => e.Key));
    }

    // Wire codes

    [Theory]
    [InlineData(nameof(RejectReason.InvalidJson), "invalid_json")]
    [InlineData(nameof(RejectReason.InvalidEvent), "invalid_event")]
    [InlineData(nameof(RejectReason.BatchTooLarge), "batch_too_large")]
    [InlineData(nameof(RejectReason.BinaryNotSupported), "binary_not_supported")]
    [InlineData(nameof(RejectReason.DeliveryFailed), "delivery_failed")]
    [InlineData(nameof(RejectReason.MessageTooLarge), "message_too_large")]
    public void ToCode_EveryContractReason_IsTheWireCode(string reason, string code)
    {
        Assert.Equal(code, Enum.Parse<RejectReason>(reason).ToCode());
    }

    [Fact]
    public void ToCode_None_Throws()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => RejectReason.None.ToCode());
    }

    private static string Event(string clientId = "\"c\"", string msg = "\"m\"", string timestamp = "1", string extra = "")
        => $"{{\"clientId\":{clientId},\"msg\":{msg},\"timestamp\":{timestamp}{extra}}}";

    private static byte[] Batch(int count, Func<int, string> element)
        => Bytes("[" + string.Join(",", Enumerable.Range(0, count).Select(element)) + "]");

    private static string Quote(string raw) => "\"" + raw + "\"";

    private static byte[] Bytes(string text) => Encoding.UTF8.GetBytes(text);
}
