using System.Net.WebSockets;
using System.Text;
using Ingest.Contracts;
using Ingest.Testing;

namespace Ingest.IntegrationTests.WebSockets;

/// <summary>Bad input of every kind: an error frame or close code, a dead-letter record, nothing lost.</summary>
public sealed class BadInputTests
{
    private const string Valid = "{\"msg\":\"ok\",\"clientId\":\"c\",\"timestamp\":1}";

    public static TheoryData<string, string, string> RejectedMessages => new()
    {
        { "broken JSON", "{\"msg\":\"x\",\"clientId\":", ErrorCodes.InvalidJson },
        { "trailing garbage", Valid + "x", ErrorCodes.InvalidJson },
        { "clientId not a string", "{\"msg\":\"x\",\"clientId\":7,\"timestamp\":1}", ErrorCodes.InvalidEvent },
        { "timestamp not an integer", "{\"msg\":\"x\",\"clientId\":\"c\",\"timestamp\":1.5}", ErrorCodes.InvalidEvent },
        { "timestamp negative", "{\"msg\":\"x\",\"clientId\":\"c\",\"timestamp\":-1}", ErrorCodes.InvalidEvent },
        { "msg missing", "{\"clientId\":\"c\",\"timestamp\":1}", ErrorCodes.InvalidEvent },
        { "clientId empty", "{\"msg\":\"x\",\"clientId\":\"\",\"timestamp\":1}", ErrorCodes.InvalidEvent },
        { "empty array", "[]", ErrorCodes.InvalidEvent },
        { "scalar", "42", ErrorCodes.InvalidEvent },
        { "array of non-objects", "[1,2]", ErrorCodes.InvalidEvent },
        { "batch with one invalid event", "[" + Valid + ",{\"msg\":1,\"clientId\":\"c\",\"timestamp\":1}]", ErrorCodes.InvalidEvent },
        { "batch of 1001", "[" + string.Join(',', Enumerable.Repeat(Valid, 1001)) + "]", ErrorCodes.BatchTooLarge },
    };

    [Theory]
    [MemberData(nameof(RejectedMessages))]
    public async Task InvalidMessage_GetsErrorFrame_DeadLetter_AndConnectionLivesOn(string description, string message, string code)
    {
        await using var gateway = await TestGateway.StartAsync();
        await using var client = await TestClient.ConnectAsync(gateway.WebSocketUri);

        await client.SendAsync(message);
        var error = await client.WaitForErrorAsync(1);
        await client.SendAndWaitAckAsync(Valid);

        Assert.Equal(code, error.Code);
        Assert.False(string.IsNullOrWhiteSpace(error.Message), description);
        AssertErrorBeforeAck(client, 1);
        var deadLetter = Assert.Single(TopicReader.ReadAll(gateway.Kafka.BootstrapServers, gateway.DeadLetterTopic, 1));
        Assert.Equal(message, deadLetter.Text);
        Assert.Equal(code, deadLetter.Headers[IngestHeaders.Error]);
        Assert.Contains(error.Message!, deadLetter.Headers[IngestHeaders.ErrorDetail], StringComparison.Ordinal);
        Assert.True(deadLetter.Headers.ContainsKey(IngestHeaders.ReceivedAt));
        Assert.True(deadLetter.Headers.ContainsKey(IngestHeaders.Connection));
        Assert.True(deadLetter.Headers.ContainsKey(IngestHeaders.Gateway));
        // None of the rejected message's events reach the events topic; the valid one does.
        var record = Assert.Single(TopicReader.ReadAll(gateway.Kafka.BootstrapServers, gateway.Topic, 1));
        Assert.Equal(Valid, record.Text);
    }

    [Fact]
    public async Task BinaryMessage_IsRejected_AndCountsInTheNumbering()
    {
        await using var gateway = await TestGateway.StartAsync();
        await using var client = await TestClient.ConnectAsync(gateway.WebSocketUri);
        var binary = Encoding.UTF8.GetBytes(Valid);

        await client.SendAsync(Valid);
        await client.SendAsync(binary, WebSocketMessageType.Binary);
        await client.SendAsync("nope");
        await client.SendAsync(Valid);
        await client.WaitForAckAsync(4);

        Assert.Equal(ErrorCodes.BinaryNotSupported, (await client.WaitForErrorAsync(2)).Code);
        Assert.Equal(ErrorCodes.InvalidJson, (await client.WaitForErrorAsync(3)).Code);
        Assert.Equal(2, client.Errors.Count);
        var deadLetters = TopicReader.ReadAll(gateway.Kafka.BootstrapServers, gateway.DeadLetterTopic, 2);
        Assert.Contains(deadLetters, d => d.Value.SequenceEqual(binary) && d.Headers[IngestHeaders.Error] == ErrorCodes.BinaryNotSupported);
        Assert.Equal(2, TopicReader.ReadAll(gateway.Kafka.BootstrapServers, gateway.Topic, 2).Count);
    }

    [Fact]
    public async Task AHundredInvalidMessages_TheDefaultAllowance_DoNotEndTheConnection()
    {
        await using var gateway = await TestGateway.StartAsync();
        await using var client = await TestClient.ConnectAsync(gateway.WebSocketUri);

        for (var i = 0; i < 100; i++)
        {
            await client.SendAsync(i % 2 == 0 ? "{" : "[]");
        }

        await client.SendAndWaitAckAsync(Valid);

        Assert.Equal(100, client.Errors.Count);
        Assert.Equal(Enumerable.Range(1, 100).Select(i => (long)i), client.Errors.Select(e => e.Seq));
        Assert.Equal(101, client.AckedUpTo);
        Assert.False(client.IsClosed);
    }

    [Fact]
    public async Task RejectedPastTheAllowance_Closes1008_AfterAFinalAckCoveringIt_EveryRejectedMessageDeadLettered()
    {
        await using var gateway = await TestGateway.StartAsync(new Dictionary<string, string?>
        {
            ["Ingest:Limits:InvalidMessageBurst"] = "5",
            ["Ingest:Limits:InvalidMessagesPerSecond"] = "0.01",
        });
        await using var client = await TestClient.ConnectAsync(gateway.WebSocketUri);
        await client.SendAndWaitAckAsync(Valid);

        for (var i = 0; i < 6; i++)
        {
            await client.SendAsync("[]");
        }

        await client.WaitForCloseAsync();

        Assert.Equal(WebSocketCloseStatus.PolicyViolation, client.CloseStatus);
        Assert.Equal("too many rejected messages", client.CloseDescription);
        Assert.Equal([2L, 3L, 4L, 5L, 6L, 7L], client.Errors.Select(e => e.Seq));
        Assert.Equal(7, client.AckedUpTo);
        var deadLetters = TopicReader.ReadAll(gateway.Kafka.BootstrapServers, gateway.DeadLetterTopic, 6);
        Assert.Equal(6, deadLetters.Count);
        Assert.All(deadLetters, record => Assert.Equal("[]", record.Text));
    }

    [Fact]
    public async Task AddressAllowance_IsSharedByItsConnections_AndOutlivesThem_GoodClientsOfTheAddressLoseNothing()
    {
        await using var gateway = await TestGateway.StartAsync(new Dictionary<string, string?>
        {
            ["Ingest:Limits:InvalidMessageBurstPerAddress"] = "3",
            ["Ingest:Limits:InvalidMessagesPerSecondPerAddress"] = "0.01",
        });
        await using var good = await TestClient.ConnectAsync(gateway.WebSocketUri);
        await using var first = await TestClient.ConnectAsync(gateway.WebSocketUri);
        await using var second = await TestClient.ConnectAsync(gateway.WebSocketUri);

        await first.SendAsync("[]");
        await first.SendAndWaitAckAsync("{}");
        await second.SendAndWaitAckAsync("not json"); // the address's third rejection: its last
        await good.SendAndWaitAckAsync(Valid);
        Assert.False(first.IsClosed);
        Assert.False(second.IsClosed);

        await second.SendAsync("[]"); // the address's fourth, though only the second's second
        await second.WaitForCloseAsync();
        Assert.Equal((WebSocketCloseStatus.PolicyViolation, "too many rejected messages"), (second.CloseStatus!.Value, second.CloseDescription));
        Assert.Equal(2, second.AckedUpTo);

        await using var reconnected = await TestClient.ConnectAsync(gateway.WebSocketUri); // finds the allowance where it was
        await reconnected.SendAndWaitAckAsync(Valid);
        await reconnected.SendAsync("[]");
        await reconnected.WaitForCloseAsync();
        Assert.Equal(WebSocketCloseStatus.PolicyViolation, reconnected.CloseStatus);
        Assert.Equal(2, reconnected.AckedUpTo);

        for (var i = 0; i < 20; i++)
        {
            await good.SendAndWaitAckAsync(Valid);
        }

        Assert.False(good.IsClosed);
        Assert.Empty(good.Errors);
        Assert.Equal(21, good.AckedUpTo);
        Assert.Equal(5, TopicReader.ReadAll(gateway.Kafka.BootstrapServers, gateway.DeadLetterTopic, 5).Count);
        Assert.Equal(22, TopicReader.ReadAll(gateway.Kafka.BootstrapServers, gateway.Topic, 22).Count);
    }

    [Fact]
    public async Task OversizeMessage_ClosesWith1009_AfterFinalAck_AndDeadLettersItsFirstBytes()
    {
        const int limit = 64 * 1024;
        await using var gateway = await TestGateway.StartAsync(new Dictionary<string, string?> { ["Ingest:WebSocket:MaxMessageBytes"] = limit.ToString(System.Globalization.CultureInfo.InvariantCulture) });
        await using var client = await TestClient.ConnectAsync(gateway.WebSocketUri);
        await client.SendAsync(Valid);
        var oversize = Encoding.UTF8.GetBytes($"{{\"msg\":\"{new string('z', limit)}\",\"clientId\":\"c\",\"timestamp\":1}}");

        await client.SendAsync(oversize, WebSocketMessageType.Text, fragmentSize: 8 * 1024);
        await client.WaitForCloseAsync();

        Assert.Equal(WebSocketCloseStatus.MessageTooBig, client.CloseStatus);
        Assert.Equal(1, client.AckedUpTo);
        var deadLetter = Assert.Single(TopicReader.ReadAll(gateway.Kafka.BootstrapServers, gateway.DeadLetterTopic, 1));
        Assert.Equal(ErrorCodes.MessageTooLarge, deadLetter.Headers[IngestHeaders.Error]);
        Assert.Equal(oversize.AsSpan(0, limit).ToArray(), deadLetter.Value);
        Assert.Single(TopicReader.ReadAll(gateway.Kafka.BootstrapServers, gateway.Topic, 1));
    }

    [Fact]
    public async Task InvalidUtf8Text_ClosesWith1007_AndDeadLettersTheBytes()
    {
        await using var gateway = await TestGateway.StartAsync();
        await using var client = await TestClient.ConnectAsync(gateway.WebSocketUri);
        await client.SendAndWaitAckAsync(Valid);
        byte[] invalid = [.. "{\"msg\":\""u8, 0xC3, 0x28, .. "\",\"clientId\":\"c\",\"timestamp\":1}"u8];

        await client.SendAsync(invalid, WebSocketMessageType.Text);
        await client.WaitForCloseAsync();

        Assert.Equal(WebSocketCloseStatus.InvalidPayloadData, client.CloseStatus);
        var deadLetter = Assert.Single(TopicReader.ReadAll(gateway.Kafka.BootstrapServers, gateway.DeadLetterTopic, 1));
        Assert.Equal(ErrorCodes.InvalidUtf8, deadLetter.Headers[IngestHeaders.Error]);
        Assert.Equal(invalid, deadLetter.Value);
    }

    [Fact]
    public async Task DeadLetterTopicOff_RejectsWithErrorFrame_AndWritesNoRecord()
    {
        await using var gateway = await TestGateway.StartAsync(new Dictionary<string, string?> { ["Ingest:Kafka:DeadLetterTopic"] = "" });
        await using var client = await TestClient.ConnectAsync(gateway.WebSocketUri);

        await client.SendAsync("{broken");
        await client.SendAndWaitAckAsync(Valid);

        Assert.Equal(ErrorCodes.InvalidJson, (await client.WaitForErrorAsync(1)).Code);
        Assert.Equal(0, Ingest.Kafka.TopicWatermarks.CountRecords(gateway.Kafka.BootstrapServers, gateway.DeadLetterTopic, TimeSpan.FromSeconds(10)));
    }

    [Fact]
    public async Task VanishingClient_MidMessage_LosesNothingItWasAckedFor()
    {
        await using var gateway = await TestGateway.StartAsync();
        var client = await TestClient.ConnectAsync(gateway.WebSocketUri);
        await client.SendAndWaitAckAsync(Valid);
        // Then the TCP connection is reset without a close frame.
        await using (client)
        {
            client.Abort();
        }

        // The gateway keeps serving others.
        await using var other = await TestClient.ConnectAsync(gateway.WebSocketUri);
        await other.SendAndWaitAckAsync(Valid);
        Assert.Equal(2, TopicReader.ReadAll(gateway.Kafka.BootstrapServers, gateway.Topic, 2).Count);
    }

    /// <summary>The contract: an error for message N is sent before any ack covering N.</summary>
    private static void AssertErrorBeforeAck(TestClient client, long sequence)
    {
        var frames = client.Frames.ToList();
        var errorIndex = frames.FindIndex(f => f.Type == ServerFrameType.Error && f.Seq == sequence);
        var firstCoveringAck = frames.FindIndex(f => f.Type == ServerFrameType.Ack && f.UpTo >= sequence);
        Assert.True(errorIndex >= 0 && errorIndex < firstCoveringAck, $"error for {sequence} must precede the ack covering it: {string.Join(' ', client.RawFrames)}");
    }
}
