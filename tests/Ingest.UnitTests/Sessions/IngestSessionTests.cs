using Ingest.Contracts;
using Ingest.Gateway.Limits;
using Ingest.Gateway.Pipeline;

namespace Ingest.UnitTests.Sessions;

/// <summary>The wire contract of one connection, driven without a socket (docs/protocol.md).</summary>
public sealed class IngestSessionTests
{
    private const string Valid = """{"msg":"m","clientId":"c1","timestamp":1}""";

    [Fact]
    public async Task ValidEvent_IsQueuedWithItsBytesAndKey_AndAckedOnceDelivered()
    {
        using var harness = new SessionHarness();

        await harness.SendAsync(Valid);
        var item = harness.TakeItem();

        Assert.Equal(1, item.Sequence);
        Assert.Equal(PipelineItemKind.Events, item.Kind);
        var record = Assert.Single(item.Events);
        Assert.Equal("c1"u8.ToArray(), record.Key);
        Assert.Equal(System.Text.Encoding.UTF8.GetBytes(Valid), record.Value);
        Assert.Equal(harness.Time.GetUtcNow().ToUnixTimeMilliseconds(), item.ReceivedAtMs);
        Assert.Empty(harness.Flush());

        item.Complete(error: null);

        Assert.Equal(["""{"type":"ack","upTo":1}"""], harness.Flush());
    }

    [Fact]
    public async Task Batch_IsOneItem_AckedOnlyWhenEveryEventIsDelivered()
    {
        using var harness = new SessionHarness();

        await harness.SendAsync($"[{Valid},{Valid.Replace("c1", "c2", StringComparison.Ordinal)}]");
        var item = harness.TakeItem();

        Assert.Equal(2, item.Events.Length);
        Assert.Equal("c2"u8.ToArray(), item.Events[1].Key);
        item.Complete(error: null);
        Assert.Empty(harness.Flush());
        item.Complete(error: null);
        Assert.Equal(["""{"type":"ack","upTo":1}"""], harness.Flush());
    }

    [Fact]
    public async Task Acks_AreCumulative_ALaterDeliveryWaitsForTheEarlierOne()
    {
        using var harness = new SessionHarness();
        await harness.SendAsync(Valid);
        await harness.SendAsync(Valid);
        var first = harness.TakeItem();
        var second = harness.TakeItem();

        second.Complete(error: null);
        Assert.Empty(harness.Flush());

        first.Complete(error: null);
        Assert.Equal(["""{"type":"ack","upTo":2}"""], harness.Flush());
    }

    [Fact]
    public async Task InvalidJson_ErrorFrameFirst_AckedOnceItIsSent_TheDeadLetterHoldsNothingBack()
    {
        using var harness = new SessionHarness();

        await harness.SendAsync("{not json");
        var deadLetter = harness.TakeItem();

        Assert.Equal(PipelineItemKind.DeadLetter, deadLetter.Kind);
        Assert.Equal(ErrorCodes.InvalidJson, deadLetter.ErrorCode);
        Assert.Equal("{not json"u8.ToArray(), deadLetter.Payload);
        Assert.StartsWith("message 1: ", deadLetter.ErrorDetail, StringComparison.Ordinal);
        Assert.Same(UntrackedDelivery.Instance, deadLetter.Target);

        // The error frame answers the message: its ack follows without waiting for the dead letter.
        var frames = harness.Flush().Concat(harness.Flush()).Select(f => ServerFrame.Parse(System.Text.Encoding.UTF8.GetBytes(f))).ToArray();
        Assert.Equal((ServerFrameType.Error, 1L, ErrorCodes.InvalidJson), (frames[0].Type, frames[0].Seq, frames[0].Code));
        Assert.Equal((ServerFrameType.Ack, 1L), (frames[1].Type, frames[1].UpTo));
    }

    [Fact]
    public async Task DeadLetterNeverWritten_ValidMessagesAfterIt_AreAckedAsSoonAsKafkaHasThem()
    {
        using var harness = new SessionHarness();

        await harness.SendAsync("[]");
        var deadLetter = harness.TakeItem(); // stays in flight: the dead-letter topic is failing
        await harness.SendAsync(Valid);
        await harness.SendAsync(Valid);
        harness.TakeItem().Complete(error: null);
        harness.TakeItem().Complete(error: null);

        var frames = harness.Flush().Concat(harness.Flush()).Select(f => ServerFrame.Parse(System.Text.Encoding.UTF8.GetBytes(f))).ToArray();
        Assert.Equal(3L, frames.Last(f => f.Type == ServerFrameType.Ack).UpTo);
        deadLetter.Complete("Local_MsgTimedOut: the dead-letter topic is down"); // later, and it changes nothing
        Assert.Empty(harness.Flush());
    }

    [Fact]
    public async Task Rejection_DeadLetterWrittenBeforeTheErrorFrameIsSent_NoAckBeforeTheError()
    {
        using var harness = new SessionHarness();

        await harness.SendAsync("[]");
        harness.TakeItem().Complete(error: null);

        Assert.Equal([ServerFrameType.Error, ServerFrameType.Ack], harness.Flush().Concat(harness.Flush()).Select(f => ServerFrame.Parse(System.Text.Encoding.UTF8.GetBytes(f)).Type));
    }

    [Fact]
    public async Task DeadLettersOff_ErrorFrameThenAck_NothingQueued()
    {
        using var harness = new SessionHarness(o => o.Kafka.DeadLetterTopic = "");

        await harness.SendAsync("""{"msg":1,"clientId":"c","timestamp":1}""");

        harness.AssertNoItem();
        var frames = harness.ParsedFrames.Concat(harness.Flush().Select(f => ServerFrame.Parse(System.Text.Encoding.UTF8.GetBytes(f)))).ToArray();
        Assert.Equal((ServerFrameType.Error, ErrorCodes.InvalidEvent), (frames[0].Type, frames[0].Code));
        Assert.Equal((ServerFrameType.Ack, 1L), (frames[1].Type, frames[1].UpTo));
    }

    [Fact]
    public async Task BinaryMessage_IsRejectedAsBinaryNotSupported_AndNumberedLikeAnyOther()
    {
        using var harness = new SessionHarness();
        await harness.SendAsync(Valid);

        await harness.Session.OnMessageAsync(new byte[] { 1, 2, 3 }, binary: true);

        Assert.Equal(PipelineItemKind.Events, harness.TakeItem().Kind);
        var deadLetter = harness.TakeItem();
        Assert.Equal((2L, ErrorCodes.BinaryNotSupported), (deadLetter.Sequence, deadLetter.ErrorCode));
        Assert.Equal(2, harness.Session.MessagesReceived);
    }

    [Fact]
    public async Task DeliveryFailure_SendsDeliveryFailed_ThenTheAckCoversTheMessage()
    {
        using var harness = new SessionHarness();
        await harness.SendAsync(Valid);
        await harness.SendAsync(Valid);
        var first = harness.TakeItem();
        harness.TakeItem().Complete(error: null);

        first.Complete("Local_MsgTimedOut: Message timed out");

        var frames = harness.Flush().Select(f => ServerFrame.Parse(System.Text.Encoding.UTF8.GetBytes(f))).ToArray();
        Assert.Equal((ServerFrameType.Error, 1L, ErrorCodes.DeliveryFailed), (frames[0].Type, frames[0].Seq, frames[0].Code));
        Assert.Contains("Local_MsgTimedOut", frames[0].Message, StringComparison.Ordinal);
        Assert.Equal((ServerFrameType.Ack, 2L), (frames[^1].Type, frames[^1].UpTo));
    }

    [Fact]
    public async Task ClientClose_WaitsForDelivery_ThenFinalAckAndClose1000()
    {
        using var harness = new SessionHarness();
        await harness.SendAsync(Valid);
        var item = harness.TakeItem();

        var closing = harness.Session.OnClientCloseAsync();
        Assert.False(harness.Session.TryRead());
        Assert.Empty(harness.Flush());
        Assert.Null(harness.Closed);

        item.Complete(error: null);
        await closing;
        await harness.FlushUntilClosedAsync();

        Assert.Equal("""{"type":"ack","upTo":1}""", harness.Frames[^1]);
        Assert.Equal((CloseCodes.Normal, ""), harness.Closed);
        Assert.True(harness.Completed);
    }

    [Fact]
    public async Task ClientClose_WithNothingSent_FinalAckOfZero()
    {
        using var harness = new SessionHarness();

        await harness.Session.OnClientCloseAsync();
        await harness.FlushUntilClosedAsync();

        Assert.Equal(["""{"type":"ack","upTo":0}"""], harness.Frames);
    }

    [Fact]
    public async Task Drain_BetweenMessages_DrainingFrame_FinalAck_Close1001()
    {
        using var harness = new SessionHarness(o => o.Shutdown.ReconnectWindowMs = 2_000);
        await harness.SendAsync(Valid);
        harness.TakeItem().Complete(error: null);

        harness.BeginShutdown();
        await harness.FlushUntilClosedAsync();

        var frames = harness.ParsedFrames.ToArray();
        Assert.Equal(ServerFrameType.Ack, frames[0].Type);
        Assert.Equal(ServerFrameType.Draining, frames[^2].Type);
        Assert.InRange(frames[^2].ReconnectAfterMs, 0, 2_000);
        Assert.Equal((ServerFrameType.Ack, 1L), (frames[^1].Type, frames[^1].UpTo));
        Assert.Equal(CloseCodes.GoingAway, harness.Closed!.Value.Status);
        Assert.False(harness.Session.TryRead());
        Assert.True(harness.Shutdown.HasBegun);
    }

    [Fact]
    public async Task Drain_InTheMiddleOfAMessage_LetsItFinish_AndItsEventsAreInTheFinalAck()
    {
        using var harness = new SessionHarness();
        Assert.True(harness.Session.TryRead()); // the first chunk of a message has arrived

        harness.BeginShutdown();
        harness.Flush();
        Assert.Null(harness.Closed);
        Assert.True(harness.Session.TryRead()); // its next chunk is still read

        await harness.SendAsync(Valid); // the message completes
        Assert.False(harness.Session.TryRead()); // the next one is not
        harness.TakeItem().Complete(error: null);
        await harness.FlushUntilClosedAsync();

        Assert.Equal("""{"type":"ack","upTo":1}""", harness.Frames[^1]);
        Assert.Equal(CloseCodes.GoingAway, harness.Closed!.Value.Status);
    }

    [Fact]
    public async Task Drain_KafkaNeverAnswers_ClosesWith1011WhenTheConnectionsShareOfTheBudgetIsSpent()
    {
        using var harness = new SessionHarness(o => o.Shutdown.TimeoutMs = 10_000);
        await harness.SendAsync(Valid);
        await harness.SendAsync(Valid);
        harness.TakeItem().Complete(error: null);
        _ = harness.TakeItem(); // never delivered

        harness.BeginShutdown();
        harness.Flush();
        Assert.Null(harness.Closed);

        // 10 s budget: the connections get 8 s, the producer's flush keeps 2 s.
        harness.Time.Advance(TimeSpan.FromMilliseconds(7_999));
        harness.Flush();
        Assert.Null(harness.Closed);
        harness.Time.Advance(TimeSpan.FromMilliseconds(1));
        await harness.FlushUntilClosedAsync();

        Assert.Equal("""{"type":"ack","upTo":1}""", harness.Frames[^1]);
        Assert.Equal(CloseCodes.InternalError, harness.Closed!.Value.Status);
    }

    [Fact]
    public async Task RejectedPastTheAllowance_IsAnsweredAndDeadLettered_ThenFinalAckCoveringIt_AndClose1008()
    {
        using var harness = new SessionHarness(o => (o.Limits.InvalidMessageBurst, o.Limits.InvalidMessagesPerSecond) = (3, 1));
        await harness.SendAsync(Valid);
        for (var i = 0; i < 3; i++)
        {
            await harness.SendAsync("not json");
        }

        Assert.False(harness.Session.Reading.IsStopped);
        Assert.Null(harness.Closed);

        await harness.SendAsync("[]"); // the fourth rejection at once: one more than the burst
        Assert.True(harness.Session.Reading.IsStopped, "reading goes on past the allowance");
        for (var i = 0; i < 5; i++)
        {
            harness.TakeItem().Complete(error: null);
        }

        await harness.FlushUntilClosedAsync();

        var frames = harness.ParsedFrames.ToArray();
        Assert.Equal([2L, 3L, 4L, 5L], frames.Where(f => f.Type == ServerFrameType.Error).Select(f => f.Seq));
        Assert.Equal(5L, frames.Last(f => f.Type == ServerFrameType.Ack).UpTo);
        Assert.Equal((CloseCodes.PolicyViolation, "too many rejected messages"), harness.Closed);
    }

    [Fact]
    public async Task RejectAllowance_RefillsAtItsRate_ValidEventsTakeNone()
    {
        using var harness = new SessionHarness(o => (o.Limits.InvalidMessageBurst, o.Limits.InvalidMessagesPerSecond) = (2, 1));
        await harness.SendAsync("[]");
        await harness.SendAsync("[]");
        for (var i = 0; i < 50; i++)
        {
            await harness.SendAsync(Valid);
        }

        harness.Time.Advance(TimeSpan.FromSeconds(1)); // one more rejection allowed
        await harness.SendAsync("[]");
        Assert.False(harness.Session.Reading.IsStopped);

        await harness.SendAsync("[]"); // none left
        Assert.True(harness.Session.Reading.IsStopped);
    }

    [Fact]
    public async Task AddressAllowance_IsSharedByItsConnections_TheOneThatPassesItIsClosed1008()
    {
        var time = SessionHarness.NewClock();
        var address = new AddressRejects(perSecond: 1, burst: 3, time);
        using var first = new SessionHarness(o => o.Limits.InvalidMessageBurst = 100, time: time, addressRejects: address);
        using var second = new SessionHarness(o => o.Limits.InvalidMessageBurst = 100, time: time, addressRejects: address);

        await first.SendAsync("not json");
        await first.SendAsync("[]");
        await second.SendAsync("{}"); // the address's third: its last
        Assert.False(first.Session.Reading.IsStopped);
        Assert.False(second.Session.Reading.IsStopped);

        await second.SendAsync(Valid); // valid events take nothing from it
        await second.SendAsync("[]"); // the fourth from the address, the second's own second of 100
        Assert.True(second.Session.Reading.IsStopped, "the address's allowance is spent");
        Assert.False(first.Session.Reading.IsStopped);
        for (var i = 0; i < 3; i++)
        {
            second.TakeItem().Complete(error: null);
        }

        await second.FlushUntilClosedAsync();
        Assert.Equal((CloseCodes.PolicyViolation, "too many rejected messages"), second.Closed);
        Assert.Equal(3L, second.ParsedFrames.Last(f => f.Type == ServerFrameType.Ack).UpTo);

        time.Advance(TimeSpan.FromSeconds(1)); // one more for the address
        await first.SendAsync("[]");
        Assert.False(first.Session.Reading.IsStopped);
        await first.SendAsync("[]");
        Assert.True(first.Session.Reading.IsStopped);
    }

    [Fact]
    public async Task RejectAllowanceOff_ThousandsOfRejections_ConnectionLivesOn()
    {
        using var harness = new SessionHarness(o => o.Limits.InvalidMessageBurst = 0);
        for (var i = 0; i < 2_000; i++)
        {
            await harness.SendAsync("[]");
            harness.TakeItem().Complete(error: null);
            harness.Flush(); // the client reads its frames
        }

        Assert.False(harness.Session.Reading.IsStopped);
        Assert.Equal(2_000L, harness.Session.MessagesReceived);
    }

    [Fact]
    public async Task MessageTimeout_ClosesAMessageStillArriving_NotAWholeOneWaitingForAFullChannel()
    {
        using var harness = new SessionHarness(o => (o.Channel.Capacity, o.WebSocket.MessageTimeoutMs) = (1, 1_000));
        await harness.SendAsync(Valid); // fills the channel

        // A whole message, its chunk read, waits for room in the channel (Kafka is slow): backpressure.
        Assert.True(harness.Session.TryRead());
        var waiting = harness.Session.OnMessageAsync(System.Text.Encoding.UTF8.GetBytes(Valid), binary: false).AsTask();
        Assert.False(waiting.IsCompleted);
        harness.Time.Advance(TimeSpan.FromSeconds(5));
        harness.Session.CheckTimeouts();
        Assert.False(harness.Session.Reading.IsStopped, "a whole message waiting for the channel timed out");

        harness.TakeItem().Complete(error: null);
        await waiting;
        harness.TakeItem().Complete(error: null);

        // A message whose first chunk came and whose end does not: closed 1008 after the timeout.
        Assert.True(harness.Session.TryRead());
        harness.Time.Advance(TimeSpan.FromSeconds(2));
        harness.Session.CheckTimeouts();
        Assert.True(harness.Session.Reading.IsStopped);
        await harness.FlushUntilClosedAsync();
        Assert.Equal((CloseCodes.PolicyViolation, "message not completed within 1000 ms"), harness.Closed);
    }

    [Fact]
    public async Task MessageTooLarge_DeadLettersThePrefixUntracked_FinalAckWithoutIt_Close1009()
    {
        using var harness = new SessionHarness();
        await harness.SendAsync(Valid);
        harness.TakeItem().Complete(error: null);

        await harness.Session.OnMessageTooLargeAsync("{\"msg\":\"xxxx"u8.ToArray(), limit: 12);
        var deadLetter = harness.TakeItem();
        await harness.FlushUntilClosedAsync();

        Assert.Equal((2L, ErrorCodes.MessageTooLarge), (deadLetter.Sequence, deadLetter.ErrorCode));
        Assert.Same(UntrackedDelivery.Instance, deadLetter.Target);
        Assert.Equal("""{"type":"ack","upTo":1}""", harness.Frames[^1]);
        Assert.Equal(CloseCodes.MessageTooBig, harness.Closed!.Value.Status);
    }

    [Fact]
    public async Task InvalidUtf8_DeadLettersWhatWasReceived_AndSendsNothingMore()
    {
        using var harness = new SessionHarness();
        byte[] received = [(byte)'{', 0xC3, 0x28];

        await harness.Session.OnInvalidUtf8Async(received);

        var deadLetter = harness.TakeItem();
        Assert.Equal(ErrorCodes.InvalidUtf8, deadLetter.ErrorCode);
        Assert.Equal(received, deadLetter.Payload);
        Assert.Empty(harness.Flush());
        Assert.Null(harness.Closed);
        Assert.True(harness.Completed);
        Assert.False(harness.Session.TryRead());
    }

    [Fact]
    public async Task ConnectionLost_DeliveryFailuresLater_StillResolveWithoutAWriter()
    {
        using var harness = new SessionHarness();
        await harness.SendAsync(Valid);
        var item = harness.TakeItem();

        harness.Session.OnConnectionLost();
        item.Complete("Local_MsgTimedOut: Message timed out");

        Assert.True(harness.Completed);
        Assert.Empty(harness.Flush());
    }
}
