using System.Text;
using Ingest.Contracts;
using Ingest.Kafka;
using Ingest.Testing;

namespace Ingest.IntegrationTests.Limits;

/// <summary>
/// Limits on what a message may be: the WebSocket protocol itself (a client that breaks it in the
/// middle of a message is closed with 1002, and what it sent of the message is a dead letter), and
/// the nesting depth of an event (64 levels).
/// </summary>
public sealed class ProtocolLimitTests
{
    private const string Valid = "{\"msg\":\"ok\",\"clientId\":\"c\",\"timestamp\":1}";

    public static TheoryData<string> Violations => ["unmasked frame", "reserved opcode", "RSV bit without an extension", "new message inside a message"];

    [Theory]
    [MemberData(nameof(Violations))]
    public async Task ProtocolErrorMidMessage_Closes1002_AndDeadLettersTheReceivedPartAsProtocolError(string violation)
    {
        await using var gateway = await TestGateway.StartAsync();
        using var client = await RawWebSocketClient.ConnectAsync(gateway.WebSocketUri);
        await client.SendTextAsync(Valid);
        var ack = await client.ReceiveFrameAsync(TestContext.Current.CancellationToken);
        Assert.Equal("{\"type\":\"ack\",\"upTo\":1}", ack?.Text);
        var fragment = "{\"msg\":\"the first half of message 2,"u8.ToArray();

        await client.SendFrameAsync(Opcode.Text, fragment, fin: false);
        var rest = ",\"clientId\":\"c\",\"timestamp\":1}"u8.ToArray();
        await (violation switch
        {
            "unmasked frame" => client.SendFrameAsync(Opcode.Continuation, rest, mask: false),
            "reserved opcode" => client.SendFrameAsync(0x3, rest),
            "RSV bit without an extension" => client.SendFrameAsync(Opcode.Continuation, rest, rsv: 4),
            _ => client.SendFrameAsync(Opcode.Text, rest),
        });
        // The client reads once the gateway is done with the message (its dead letter is written):
        // the close frame is still there for it to read.
        await Poll.UntilAsync(() => gateway.Metrics.Snapshot(0, 0).DeadLetters == 1, "the dead letter");
        var transcript = await client.ReadUntilCloseAsync(TimeSpan.FromSeconds(20));

        var close = transcript.Close;
        Assert.NotNull(close);
        Assert.Equal(1002, close.CloseStatus);
        Assert.Empty(transcript.Texts); // no error frame, no final ack: the WebSocket layer closed at once
        var deadLetter = Assert.Single(TopicReader.ReadAll(gateway.Kafka.BootstrapServers, gateway.DeadLetterTopic, 1));
        Assert.Equal(ErrorCodes.ProtocolError, deadLetter.Headers[IngestHeaders.Error]);
        Assert.StartsWith("message 2: ", deadLetter.Headers[IngestHeaders.ErrorDetail], StringComparison.Ordinal);
        Assert.Equal(fragment, deadLetter.Value);
        var record = Assert.Single(TopicReader.ReadAll(gateway.Kafka.BootstrapServers, gateway.Topic, 1));
        Assert.Equal(Valid, record.Text);
    }

    [Fact]
    public async Task EveryClientClosedByTheWebSocketLayer_ReadsItsCloseCode_TheConnectionIsNotResetUnderIt()
    {
        // The layer aborts itself after its close frame (1002, 1007): were the connection closed at
        // once, the reset would often overtake the close frame (1 connection in 6 here, measured, with
        // no dead letter to write first).
        await using var gateway = await TestGateway.StartAsync(new Dictionary<string, string?> { ["Ingest:Kafka:DeadLetterTopic"] = "" });
        var codes = new List<int?>();
        for (var i = 0; i < 40; i++)
        {
            using var client = await RawWebSocketClient.ConnectAsync(gateway.WebSocketUri);
            if (i % 2 == 0)
            {
                await client.SendFrameAsync(Opcode.Text, "{\"msg\":\"half"u8.ToArray(), fin: false);
                await client.SendFrameAsync(0x3, "\"}"u8.ToArray());
            }
            else
            {
                byte[] invalidUtf8 = [.. "{\"msg\":\""u8, 0xC3, 0x28, .. "\"}"u8];
                await client.SendFrameAsync(Opcode.Text, invalidUtf8);
            }

            codes.Add((await client.ReadUntilCloseAsync(TimeSpan.FromSeconds(10))).Close?.CloseStatus);
        }

        Assert.Equal(Enumerable.Range(0, 40).Select(i => (int?)(i % 2 == 0 ? 1002 : 1007)), codes);
    }

    [Fact]
    public async Task TextEndingInsideACharacter_ThroughAnEmptyLastFrame_Closes1007AfterAFinalAck_AndDeadLettersIt()
    {
        // System.Net.WebSockets checks the end of a text message only on a non-empty last frame:
        // the gateway finds this one itself, so it can still send the final ack before its 1007.
        await using var gateway = await TestGateway.StartAsync();
        using var client = await RawWebSocketClient.ConnectAsync(gateway.WebSocketUri);
        await client.SendTextAsync(Valid);
        byte[] cutOff = [.. "{\"msg\":\"caf"u8, 0xC3];

        await client.SendFrameAsync(Opcode.Text, cutOff, fin: false);
        await client.SendFrameAsync(Opcode.Continuation, Array.Empty<byte>());
        var transcript = await client.ReadUntilCloseAsync(TimeSpan.FromSeconds(20));

        Assert.Equal(1007, transcript.Close?.CloseStatus);
        Assert.Equal("{\"type\":\"ack\",\"upTo\":1}", transcript.Texts[^1]);
        var deadLetter = Assert.Single(TopicReader.ReadAll(gateway.Kafka.BootstrapServers, gateway.DeadLetterTopic, 1));
        Assert.Equal(ErrorCodes.InvalidUtf8, deadLetter.Headers[IngestHeaders.Error]);
        Assert.StartsWith("message 2: ", deadLetter.Headers[IngestHeaders.ErrorDetail], StringComparison.Ordinal);
        Assert.Equal(cutOff, deadLetter.Value);
        Assert.Equal(Valid, Assert.Single(TopicReader.ReadAll(gateway.Kafka.BootstrapServers, gateway.Topic, 1)).Text);
    }

    [Fact]
    public async Task EventDepth_64LevelsAreAcked_65AreInvalidEvent_AloneOrInABatch()
    {
        await using var gateway = await TestGateway.StartAsync();
        await using var client = await TestClient.ConnectAsync(gateway.WebSocketUri);
        var deepest = Nested(64, "alone");
        var deepestInBatch = Nested(64, "in a batch");

        await client.SendAsync(deepest);
        await client.SendAsync(Nested(65, "alone"));
        await client.SendAsync($"[{deepestInBatch}]");
        await client.SendAsync($"[{Nested(65, "in a batch")}]");
        await client.WaitForAckAsync(4);

        Assert.Equal([2L, 4L], client.Errors.Select(e => e.Seq));
        Assert.All(client.Errors, e =>
        {
            Assert.Equal(ErrorCodes.InvalidEvent, e.Code);
            Assert.Contains("deeper than 64 levels", e.Message, StringComparison.Ordinal);
        });
        var records = TopicReader.ReadAll(gateway.Kafka.BootstrapServers, gateway.Topic, 2);
        Assert.Equal([deepest, deepestInBatch], records.Select(r => r.Text)); // one clientId: one partition, in order
        Assert.Equal(2, TopicWatermarks.CountRecords(gateway.Kafka.BootstrapServers, gateway.DeadLetterTopic, TimeSpan.FromSeconds(10)));
    }

    /// <summary>A valid event that nests <paramref name="levels"/> levels, itself being the first.</summary>
    private static string Nested(int levels, string msg)
    {
        var inner = new StringBuilder("{}");
        for (var level = 2; level < levels; level++)
        {
            inner.Insert(0, "{\"a\":").Append('}');
        }

        return $"{{\"msg\":\"{msg}\",\"clientId\":\"c\",\"timestamp\":1,\"deep\":{inner}}}";
    }
}
