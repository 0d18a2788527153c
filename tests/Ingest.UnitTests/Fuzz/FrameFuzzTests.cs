using Ingest.Contracts;
using Ingest.Gateway.Pipeline;

namespace Ingest.UnitTests.Fuzz;

/// <summary>
/// The message path at the frame level: generated and mutated client byte streams (RFC 6455
/// frames, right and wrong) go into the gateway's own connection code over an in-memory stream
/// (<see cref="ConnectionRig"/>), with small message limits so that the size limit is exercised.
/// <see cref="WireModel"/> says what the stream holds; the test checks that nothing escapes, every
/// whole data message before the end gets its number and its outcome (its events, checked
/// against <see cref="JsonContractOracle"/>, or a dead letter and an error frame), the connection
/// ends as docs/protocol.md says (close 1000, 1002, 1007 or 1009, or no close when the stream is
/// cut) with the dead letter that close code promises, and nothing rejected is ever queued as events.
/// </summary>
public sealed class FrameFuzzTests(ITestOutputHelper output)
{
    /// <summary>Cases each CI seed must run (see <see cref="FuzzBudgetTests"/>).</summary>
    public const int CiCasesPerSeed = 15_000;

    public static readonly int[] CiSeeds = [1, 2, 3];

    /// <summary>Message limits of the rigs: the smallest the options allow, one a few events fit in, and 1 KiB.</summary>
    private static readonly int[] MessageLimits = [64, 200, 1024];

    private static readonly TimeSpan CiTime = TimeSpan.FromSeconds(60);

    private static readonly TimeSpan HangTimeout = TimeSpan.FromSeconds(30);

    public static TheoryData<int> Seeds => FuzzBudget.Seeds(CiSeeds);

    [Theory]
    [MemberData(nameof(Seeds))]
    public async Task GeneratedAndMutatedFrameStreams_EveryWholeMessageAnswered_ConnectionEndsWithItsDocumentedClose_NothingRejectedQueued(int seed)
    {
        var run = new FuzzRun("frame fuzz", seed, FuzzBudget.For(CiCasesPerSeed, CiTime), output);
        var rigs = MessageLimits.Select(limit => new ConnectionRig(limit)).ToArray();
        using var hung = new CancellationTokenSource();
        try
        {
            while (run.TryNext(out var caseIndex))
            {
                var random = FuzzRandom.For(seed, caseIndex);
                var rig = rigs[random.Next(rigs.Length)];
                var generated = new FrameStreamGenerator(random, rig.MaxMessageBytes).Next();
                var expected = WireModel.Expect(generated.Bytes, rig.MaxMessageBytes);
                var (maxRead, asyncPercent) = random.Next(10) switch
                {
                    < 6 => (0, 0),
                    < 8 => (random.Next(1, 20), 0),
                    _ => (random.Next(0, 20), 30),
                };
                var stream = new ScriptedStream(generated.Bytes, random.Fork(), maxRead, asyncPercent);
                var context = new CaseContext(run.Where(caseIndex), rig.MaxMessageBytes, generated, expected, stream);

                hung.CancelAfter(HangTimeout);
                await run.CheckAsync(async () =>
                {
                    ConnectionResult result;
                    try
                    {
                        result = await rig.RunAsync(stream, $"fuzz-{caseIndex}", hung.Token);
                    }
                    catch (TimeoutException e)
                    {
                        // Not a check that failed: the rig is left in an unknown state, so the run ends here.
                        throw new InvalidOperationException(context.Fail(e.Message, null).Message, e);
                    }

                    var end = Check(context, result);
                    run.Count($"end: {end}");
                    run.Count($"messages answered: {(expected.Messages.Count < 3 ? expected.Messages.Count.ToString(System.Globalization.CultureInfo.InvariantCulture) : "3 or more")}");
                    run.Count("events queued", result.Items.Where(i => i.Kind == PipelineItemKind.Events).Sum(i => i.Events.Length));
                    foreach (var item in result.Items.Where(i => i.Kind == PipelineItemKind.DeadLetter))
                    {
                        run.Count($"dead letter: {item.ErrorCode}");
                    }
                });

                foreach (var shape in generated.Shape.Split(", "))
                {
                    run.Count($"shape: {shape}");
                }
            }
        }
        finally
        {
            foreach (var rig in rigs)
            {
                rig.Dispose();
            }
        }

        run.Finish();
        foreach (var end in Enum.GetNames<WireEnd>())
        {
            Assert.True(run.Cases < 2000 || run.CountStartingWith($"end: {end}") > run.Cases / 100, $"too few streams ended with {end} for the test to mean much");
        }
    }

    /// <summary>Checks one connection against the model; returns how it ended (and any known deviation).</summary>
    private static string Check(CaseContext context, ConnectionResult result)
    {
        var expected = context.Expected;
        var limit = context.MaxMessageBytes;
        context.Require(result.Escaped is null, $"an exception escaped the connection: {result.Escaped}", result);
        var frames = ServerWireFrame.Parse(context.Stream.Output, out var malformed);
        context.Require(malformed is null, malformed!, result);

        var tracked = result.Items.Where(i => i.Target is not UntrackedDelivery).ToList();
        var untracked = result.Items.Where(i => i.Target is UntrackedDelivery).ToList();

        // Nothing rejected reaches the events topic: an events item is only ever a whole valid text
        // message of the stream (checked one by one below), never the message that ended it.
        var wholeValid = expected.Messages.Where(m => !m.Binary && JsonContractOracle.Verdict(m.Payload, binary: false, allowedClientId: null).Accepted).ToList();
        context.Require(
            untracked.All(i => i.Kind == PipelineItemKind.DeadLetter)
                && result.Items.Where(i => i.Kind == PipelineItemKind.Events).All(i => i.Sequence <= expected.Messages.Count && wholeValid.Contains(expected.Messages[(int)i.Sequence - 1])),
            "an events item that is not a whole valid message of the stream was queued",
            result);
        var decidedTooLarge = untracked is [{ ErrorCode: ErrorCodes.MessageTooLarge }];
        var deviations = new List<string>();
        void Deviation(bool condition, string what, string deviation)
        {
            context.Require(condition && !FuzzBudget.Strict, condition ? $"{what} (known deviation: {deviation})" : what, result);
            deviations.Add(deviation);
        }

        // The whole messages the connection must answer, and the one that ends it (sequence, bytes).
        var answered = expected.Messages.Count;
        var (endSequence, endPartial) = (answered + 1, expected.Partial);
        var exactLimitTakenTooLarge = decidedTooLarge && (result.MessagesReceived < answered
            ? expected.Messages[(int)result.MessagesReceived].Payload.Length == limit
            : expected.End != WireEnd.TooLarge && expected.InMessage && expected.Partial.Length >= limit);
        if (exactLimitTakenTooLarge)
        {
            // MessageReader, its buffer full, reads one more byte to see whether the message goes on:
            // an empty fragment that is not the last one reads as "it goes on", and a message of
            // exactly MaxMessageBytes (which the contract accepts) is closed with 1009.
            Deviation(true, $"message {result.MessagesReceived + 1} of exactly {limit} bytes was taken as too large", "a message of exactly the limit with an empty fragment after it is taken as too large");
            if (result.MessagesReceived < answered)
            {
                answered = (int)result.MessagesReceived;
                (endSequence, endPartial) = (answered + 1, expected.Messages[answered].Payload);
            }
        }

        // How it ended: the server's (first) close frame.
        var closes = frames.Where(f => f.Opcode == 8).Select(f => ToEnd(context, f.CloseStatus, result)).ToList();
        var end = closes.Count == 0 ? WireEnd.Lost : closes[0];
        var closeAt = closes.Count == 0 ? frames.Count : frames.FindIndex(f => f.Opcode == 8);
        var layerFaultAfter1009 = decidedTooLarge && expected.AfterTooLarge.Overlaps([WireEnd.ProtocolError, WireEnd.InvalidUtf8]);
        if (exactLimitTakenTooLarge)
        {
            // What follows was read by the gateway as dropped data of an oversize message, not as
            // the model reads it: only the close codes are checked (the 1009, perhaps the layer's own).
            context.Require(closes.All(c => c is WireEnd.TooLarge or WireEnd.ProtocolError or WireEnd.InvalidUtf8), $"after deciding 1009 the server closed with {string.Join(", ", closes)}", result);
        }
        else if (closes.Count > 1)
        {
            // The gateway's 1009, then the layer's own close for a fault in what it read to drop.
            Deviation(
                closes.Count == 2 && closes.Contains(WireEnd.TooLarge) && layerFaultAfter1009 && expected.AfterTooLarge.Contains(closes.First(c => c != WireEnd.TooLarge)),
                $"the server sent {closes.Count} close frames",
                "after deciding 1009, a fault in what is read to be dropped sends a second close frame");
        }

        if (!exactLimitTakenTooLarge && frames.Skip(closeAt + 1).Any(f => f.Opcode == 1))
        {
            // ManagedWebSocket checks its state before it takes its send lock: a frame FrameWriter was
            // sending when the layer failed the connection (its own 1002 or 1007, from the reading
            // side) goes out after that close frame (RFC 6455 section 5.5.1 forbids it).
            Deviation(
                end is WireEnd.ProtocolError or WireEnd.InvalidUtf8,
                "the server sent a data frame after its close frame",
                "System.Net.WebSockets: a frame being sent when the layer fails the connection follows its close frame");
        }

        if (exactLimitTakenTooLarge)
        {
            context.Require(end is not WireEnd.ClientClose, "the connection closed with 1000 after deciding 1009", result);
        }
        else if (decidedTooLarge && end != WireEnd.TooLarge)
        {
            context.Require(
                expected.End == WireEnd.TooLarge && expected.AfterTooLarge.Contains(end),
                $"the gateway decided 1009, then the connection ended with {end}; the stream calls for {expected.End}, then {string.Join(" or ", expected.AfterTooLarge)}",
                result);
            if (end != WireEnd.Lost)
            {
                Deviation(true, $"the gateway decided 1009, then the connection ended with {end}", "after deciding 1009, a fault in what is read to be dropped closes with 1002/1007 first");
            }
        }
        else
        {
            context.Require(end == expected.End, $"the connection ended with {end}; the stream calls for {expected.End}", result);
        }

        // Every whole message before the end: numbered in order, its events queued exactly when valid.
        context.Require(result.MessagesReceived == answered && tracked.Count == answered, $"{answered} whole messages were sent; the connection numbered {result.MessagesReceived} and queued {tracked.Count} items", result);
        var verdicts = new OracleVerdict[answered];
        for (var i = 0; i < answered; i++)
        {
            var message = expected.Messages[i];
            var verdict = verdicts[i] = JsonContractOracle.Verdict(message.Payload, message.Binary, allowedClientId: null);
            var item = tracked[i];
            context.Require(item.Sequence == i + 1, $"item {i} is numbered {item.Sequence}", result);
            if (verdict.Accepted)
            {
                context.Require(
                    item.Kind == PipelineItemKind.Events && item.Events.Length == verdict.Events.Count
                        && item.Events.Select((e, j) => e.Value.AsSpan().SequenceEqual(verdict.Events[j].Raw) && e.Key.AsSpan().SequenceEqual(verdict.Events[j].Key)).All(same => same),
                    $"message {i + 1} is valid: its {verdict.Events.Count} events must be queued as sent", result);
            }
            else
            {
                context.Require(item.Kind == PipelineItemKind.DeadLetter, $"message {i + 1} ({verdict.Code}) was queued as events", result);
                context.Require(item.ErrorCode == verdict.Code && item.Payload.AsSpan().SequenceEqual(message.Payload), $"message {i + 1}: dead letter {item.ErrorCode}, expected {verdict.Code} with the message's bytes", result);
            }
        }

        // The message that ended the connection: dead-lettered (untracked, never acked) as its close code says.
        if (KnownDeviation(context, end, untracked) is { } deviation)
        {
            Deviation(true, $"the message that ended the connection ({end}) is not dead-lettered as docs/protocol.md says", deviation);
        }
        else
        {
            CheckEndDeadLetter(context, result, decidedTooLarge ? WireEnd.TooLarge : end, untracked, endSequence, endPartial);
        }

        CheckTextFrames(context, result, end, frames.Take(closeAt).Where(f => f.Opcode == 1).ToList(), verdicts);

        // Every ping read before the end is answered with a pong holding its payload (RFC 6455 section 5.5.3).
        var pongs = frames.Where(f => f.Opcode == 10).ToList();
        context.Require(
            exactLimitTakenTooLarge || (pongs.Count >= expected.Pings.Count && expected.Pings.Select((p, i) => p.AsSpan().SequenceEqual(pongs[i].Payload)).All(same => same)),
            $"{expected.Pings.Count} pings were read; the server answered {pongs.Count} as it should", result);

        foreach (var flaw in expected.LayerFlaws.Distinct())
        {
            Deviation(true, "text that is not UTF-8 was taken as a whole message", $"System.Net.WebSockets: {flaw}");
        }

        return deviations.Count == 0 ? end.ToString() : $"{end}, known deviation: {string.Join("; ", deviations.Distinct())}";
    }

    private static WireEnd ToEnd(CaseContext context, int closeStatus, ConnectionResult result) => closeStatus switch
    {
        CloseCodes.Normal => WireEnd.ClientClose,
        CloseCodes.ProtocolError => WireEnd.ProtocolError,
        CloseCodes.InvalidPayload => WireEnd.InvalidUtf8,
        CloseCodes.MessageTooBig => WireEnd.TooLarge,
        var other => throw context.Fail($"close code {other} is not one docs/protocol.md gives for this connection", result),
    };

    /// <summary>
    /// Deviations of the product from docs/protocol.md in the dead letter of the message that ended
    /// the connection, which this test found and which are reported, not fixed here (they belong to
    /// <c>MessageReader</c>). Each is recognised as narrowly as the stream allows and counted in the
    /// output; <c>INGEST_FUZZ_STRICT=1</c> fails on them. Remove an entry once its fix is in.
    /// </summary>
    private static string? KnownDeviation(CaseContext context, WireEnd end, List<PipelineItem> untracked)
    {
        var expected = context.Expected;

        // The 1-byte receive that MessageReader makes once its buffer holds MaxMessageBytes (to tell
        // "exactly the limit" from "over it") is outside the try that recovers a message the layer
        // faulted: invalid UTF-8 or a protocol error found by it escapes as a lost connection. The
        // layer has closed with 1007 or 1002, but the message is not dead-lettered.
        if (untracked.Count == 0 && ((end == WireEnd.InvalidUtf8 && expected.AtProbe)
            || (end == WireEnd.ProtocolError && expected.InMessage && expected.Partial.Length == context.MaxMessageBytes)))
        {
            return "a fault found by the probe at the size limit is not dead-lettered";
        }

        // MessageReader tells invalid UTF-8 from a protocol error by looking for an invalid sequence
        // in what it holds, where an unfinished character at the end does not count (the next frame
        // may finish it). When the message ends there (or the bytes after it are NUL, which the
        // recovery of the faulted chunk trims), the layer closed with 1007, but the message is
        // dead-lettered as protocol_error.
        if (end == WireEnd.InvalidUtf8 && !expected.PartialBinary && untracked is [{ ErrorCode: ErrorCodes.ProtocolError } misread]
            && expected.Partial.AsSpan().StartsWith(misread.Payload)
            && WireModel.FirstInvalidUtf8(misread.Payload, out var unfinished) < 0 && unfinished)
        {
            return "text ending in an unfinished character is dead-lettered as protocol_error";
        }

        // After the layer let an unfinished character through (see WireModel), its UTF-8 check fails
        // the next text message at its first bytes, which MessageReader finds valid: protocol_error.
        if (end == WireEnd.InvalidUtf8 && expected.InheritedUnfinished && untracked is [{ ErrorCode: ErrorCodes.ProtocolError } inherited]
            && expected.Partial.AsSpan().StartsWith(inherited.Payload))
        {
            return "System.Net.WebSockets: the next text message inherits the unfinished character, and is dead-lettered as protocol_error";
        }

        // The same look decides when the layer failed for a protocol error (close 1002): a message
        // whose bytes so far hold an invalid sequence (binary, or text whose bad sequence the layer
        // has not finished reading: it knows an overlong form only once complete) is dead-lettered
        // as invalid_utf8.
        if (end == WireEnd.ProtocolError && untracked is [{ ErrorCode: ErrorCodes.InvalidUtf8 } misnamed]
            && misnamed.Payload.AsSpan().SequenceEqual(expected.Partial) && WireModel.FirstInvalidUtf8(misnamed.Payload, out _) >= 0)
        {
            return "a message cut by a protocol error, holding bytes that are not UTF-8, is dead-lettered as invalid_utf8";
        }

        return null;
    }

    /// <summary>The message that ended the connection: dead-lettered as its close code says, never acked.</summary>
    private static void CheckEndDeadLetter(CaseContext context, ConnectionResult result, WireEnd end, List<PipelineItem> untracked, int sequence, byte[] partial)
    {
        var expected = context.Expected;
        var (code, required) = end switch
        {
            WireEnd.TooLarge => (ErrorCodes.MessageTooLarge, true),
            WireEnd.InvalidUtf8 => (ErrorCodes.InvalidUtf8, true),
            WireEnd.ProtocolError when expected.InMessage => (ErrorCodes.ProtocolError, partial.Length > 0),
            _ => (null, false),
        };
        if (code is null)
        {
            context.Require(untracked.Count == 0, $"nothing is dead-lettered when the connection ends with {end}; got {string.Join(", ", untracked.Select(i => i.ErrorCode))}", result);
            return;
        }

        context.Require(untracked.Count == (required ? 1 : untracked.Count) && untracked.Count <= 1, $"the end ({end}) must dead-letter message {sequence} once; got {untracked.Count} dead letters", result);
        if (untracked.Count == 0)
        {
            return;
        }

        var deadLetter = untracked[0];
        context.Require(deadLetter.Kind == PipelineItemKind.DeadLetter && deadLetter.Sequence == sequence && deadLetter.ErrorCode == code, $"the end ({end}) must dead-letter message {sequence} as {code}; got #{deadLetter.Sequence} {deadLetter.ErrorCode}", result);
        var payload = deadLetter.Payload;
        var limit = context.MaxMessageBytes;
        var what = end switch
        {
            // Its first MaxMessageBytes bytes.
            WireEnd.TooLarge => payload.AsSpan().SequenceEqual(partial.AsSpan(0, Math.Min(limit, partial.Length))),

            // What arrived of it, up to the bad bytes at least (the layer copies them without saying how many).
            WireEnd.InvalidUtf8 => payload.Length <= limit && partial.AsSpan().StartsWith(payload),

            // What arrived of it.
            _ => payload.AsSpan().SequenceEqual(partial),
        };
        context.Require(what, $"the dead letter of message {sequence} holds {payload.Length} bytes ({Convert.ToHexString(payload.AsSpan(0, Math.Min(payload.Length, 64)))}...) that are not what arrived of it ({partial.Length} bytes)", result);
    }

    /// <summary>Acks and error frames: every rejected message gets its error before any ack covers it; acks are cumulative.</summary>
    private static void CheckTextFrames(CaseContext context, ConnectionResult result, WireEnd end, List<ServerWireFrame> texts, OracleVerdict[] verdicts)
    {
        var answered = new HashSet<long>();
        long acked = 0;
        foreach (var text in texts)
        {
            var frame = ServerFrame.Parse(text.Payload);
            if (frame.Type == ServerFrameType.Error)
            {
                context.Require(frame.Seq >= 1 && frame.Seq <= verdicts.Length && !verdicts[frame.Seq - 1].Accepted, $"error frame for message {frame.Seq}, which is not a rejected whole message", result);
                context.Require(frame.Code == verdicts[frame.Seq - 1].Code && answered.Add(frame.Seq) && frame.Seq > acked, $"error frame {text}: expected {verdicts[frame.Seq - 1].Code}, once, before any ack covering it", result);
            }
            else
            {
                context.Require(frame.Type == ServerFrameType.Ack && frame.UpTo >= acked && frame.UpTo <= verdicts.Length, $"frame {text}: expected an ack between {acked} and {verdicts.Length}", result);
                acked = frame.UpTo;
                for (var seq = 1; seq <= acked; seq++)
                {
                    context.Require(verdicts[seq - 1].Accepted || answered.Contains(seq), $"ack {acked} covers rejected message {seq} before its error frame", result);
                }
            }
        }

        if (end is WireEnd.ClientClose or WireEnd.TooLarge)
        {
            // A close with a final ack: it covers every whole message, each rejected one answered before it.
            var final = texts.Count == 0 ? default : ServerFrame.Parse(texts[^1].Payload);
            context.Require(final.Type == ServerFrameType.Ack && final.UpTo == verdicts.Length, $"the close must follow a final ack of {verdicts.Length}; the last frame is {(texts.Count == 0 ? "none" : texts[^1])}", result);
        }
    }

    /// <summary>Everything a failure message needs to reproduce a case.</summary>
    private sealed record CaseContext(string Where, int MaxMessageBytes, GeneratedStream Generated, WireExpectation Expected, ScriptedStream Stream)
    {
        public void Require(bool condition, string what, ConnectionResult? result)
        {
            if (!condition)
            {
                throw Fail(what, result);
            }
        }

        public Xunit.Sdk.XunitException Fail(string what, ConnectionResult? result)
        {
            var frames = ServerWireFrame.Parse(Stream.Output, out _);
            var items = result is null ? "" : string.Join(", ", result.Items.Select(i =>
                $"#{i.Sequence} {(i.Target is UntrackedDelivery ? "untracked " : "")}{(i.Kind == PipelineItemKind.Events ? $"{i.Events.Length} events" : $"{i.ErrorCode} ({i.Payload.Length} bytes)")}"));
            const int Shown = 1500;
            var bytes = Generated.Bytes;
            return new Xunit.Sdk.XunitException(
                $"{Where}: {what}\n" +
                $"  limit {MaxMessageBytes} bytes; stream ({bytes.Length} bytes, {Generated.Shape}): {Convert.ToHexString(bytes.AsSpan(0, Math.Min(bytes.Length, Shown)))}{(bytes.Length > Shown ? "..." : "")}\n" +
                $"  model:{Expected.Story}\n" +
                $"  queued: {items}\n" +
                $"  server wrote: {string.Join(" / ", frames)}");
        }
    }
}
