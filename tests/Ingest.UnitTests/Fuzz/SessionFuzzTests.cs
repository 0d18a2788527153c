using System.Text;
using Ingest.Contracts;
using Ingest.Gateway.Pipeline;
using Ingest.UnitTests.Sessions;

namespace Ingest.UnitTests.Fuzz;

/// <summary>
/// The message path at the JSON level (docs/protocol.md, "Client to server" and "Server to client"):
/// generated and mutated data messages go into an <see cref="Gateway.Sessions.IngestSession"/>
/// through <see cref="SessionHarness"/> (no socket), and every one is checked against
/// <see cref="JsonContractOracle"/>: a valid message is exactly one events item with the events'
/// exact bytes and keys, acked once delivered; any other is an error frame with its code and
/// number, a dead letter (never an events item), then an ack. The session never throws.
/// </summary>
public sealed class SessionFuzzTests(ITestOutputHelper output)
{
    /// <summary>Cases each CI seed must run (see <see cref="FuzzBudgetTests"/>).</summary>
    public const int CiCasesPerSeed = 40_000;

    public static readonly int[] CiSeeds = [1, 2, 3];

    private static readonly TimeSpan CiTime = TimeSpan.FromSeconds(60);

    private static readonly HashSet<string> FrameCodes =
    [
        ErrorCodes.InvalidJson, ErrorCodes.InvalidEvent, ErrorCodes.BatchTooLarge, ErrorCodes.BinaryNotSupported,
        ErrorCodes.ClientIdMismatch, ErrorCodes.DeliveryFailed,
    ];

    public static TheoryData<int> Seeds => FuzzBudget.Seeds(CiSeeds);

    [Theory]
    [MemberData(nameof(Seeds))]
    public async Task GeneratedAndMutatedMessages_QueuedWhenTheContractAcceptsThem_ElseErrorAndDeadLetter_AlwaysAcked(int seed)
    {
        var run = new FuzzRun("session fuzz", seed, FuzzBudget.For(CiCasesPerSeed, CiTime), output);
        var plan = FuzzRandom.For(seed, -1); // draws the sessions; each case draws its message from its own generator
        Connection? connection = null;
        try
        {
            while (run.TryNext(out var caseIndex))
            {
                if (connection is null || connection.MessagesLeft-- == 0)
                {
                    connection?.Dispose();
                    connection = new Connection(plan);
                    run.Count($"sessions: dead letters {(connection.DeadLetters ? "on" : "off")}, {(connection.AllowedClientId is null ? "any clientId" : "token clientId")}");
                }

                var random = FuzzRandom.For(seed, caseIndex);
                var message = new JsonMessageGenerator(random, connection.AllowedClientId).Next();
                var current = connection;
                if (!await run.CheckAsync(async () => run.Count("outcome: " + await current.CheckAsync(message, random, run.Where(caseIndex)))))
                {
                    connection.MessagesLeft = 0; // out of step with the test now: the next case starts a new session
                }

                run.Count("shape: " + message.Shape);
            }
        }
        finally
        {
            connection?.Dispose();
        }

        run.Finish();
        Assert.True(run.Cases < 1000 || run.CountOf("outcome: events") > run.Cases / 5, "too few generated messages were valid for the test to mean much");
    }

    /// <summary>One session and what the test knows of it.</summary>
    private sealed class Connection : IDisposable
    {
        private readonly SessionHarness _harness;
        private readonly byte[]? _allowedKey;
        private long _sequence;

        public Connection(FuzzRandom plan)
        {
            DeadLetters = !plan.OneIn(6);
            AllowedClientId = plan.OneIn(5) ? plan.Pick(["c1", "ü", "client 1"]) : null;
            MessagesLeft = plan.Next(1, 400);
            _allowedKey = AllowedClientId is null ? null : Encoding.UTF8.GetBytes(AllowedClientId);
            _harness = new SessionHarness(
                o =>
                {
                    // The rate limit would make the test wait (it slows reading, nothing else): out of the way.
                    o.Limits.EventsPerSecond = 100_000_000;
                    o.Limits.EventBurst = 100_000_000;
                    o.Limits.InvalidMessageBurst = 0; // the oracle is the contract's per-message rules; the allowance has its own tests
                    if (!DeadLetters)
                    {
                        o.Kafka.DeadLetterTopic = "";
                    }
                },
                AllowedClientId);
        }

        public bool DeadLetters { get; }

        public string? AllowedClientId { get; }

        public int MessagesLeft { get; set; }

        public void Dispose() => _harness.Dispose();

        /// <summary>Sends one message, plays Kafka for it, and checks everything the contract says of it.</summary>
        public async Task<string> CheckAsync(GeneratedMessage message, FuzzRandom random, string where)
        {
            var expected = JsonContractOracle.Verdict(message.Bytes, message.Binary, _allowedKey);
            var sequence = ++_sequence;
            var context = new CaseContext(where, sequence, DeadLetters, AllowedClientId, message, expected);
            try
            {
                await _harness.Session.OnMessageAsync(message.Bytes, message.Binary);
            }
            catch (Exception e)
            {
                throw context.Fail($"the session threw {e}");
            }

            context.Require(_harness.Session.MessagesReceived == sequence, $"the session numbered {_harness.Session.MessagesReceived} messages");
            var item = TakeOnlyItem(context);
            var frames = Flush();
            return expected.Accepted
                ? CheckAccepted(context, item, frames, random)
                : CheckRejected(context, item, frames, random);
        }

        private string CheckAccepted(CaseContext context, PipelineItem? item, List<ServerFrame> frames, FuzzRandom random)
        {
            var expected = context.Expected;
            context.Require(item is { Kind: PipelineItemKind.Events }, $"a valid message must be one events item; got {Describe(item)} and frames [{string.Join(", ", frames)}]");
            context.Require(item!.Sequence == context.Sequence && ReferenceEquals(item.Target, _harness.Session), $"the events item is numbered {item.Sequence}");
            context.Require(item.Events.Length == expected.Events.Count, $"{item.Events.Length} events queued, {expected.Events.Count} expected");
            for (var i = 0; i < item.Events.Length; i++)
            {
                context.Require(item.Events[i].Value.AsSpan().SequenceEqual(expected.Events[i].Raw), $"event {i} bytes: queued {Preview(item.Events[i].Value)}, expected {Preview(expected.Events[i].Raw)}");
                context.Require(item.Events[i].Key.AsSpan().SequenceEqual(expected.Events[i].Key), $"event {i} key: queued {Convert.ToHexString(item.Events[i].Key)}, expected {Convert.ToHexString(expected.Events[i].Key)}");
            }

            context.Require(frames.Count == 0, $"nothing is sent for a valid message before its delivery; sent [{string.Join(", ", frames)}]");

            // Kafka: every record written, or (sometimes) one that is not: delivery_failed, then the ack.
            var failing = random.OneIn(25) ? random.Next(item.Events.Length) : -1;
            for (var i = 0; i < item.Events.Length; i++)
            {
                item.Complete(i == failing ? "Local_MsgTimedOut: fuzz" : null);
            }

            frames = Flush();
            if (failing >= 0)
            {
                context.Require(
                    frames.Count == 2 && frames[0] is { Type: ServerFrameType.Error, Code: ErrorCodes.DeliveryFailed } error && error.Seq == context.Sequence && IsAck(frames[1], context.Sequence),
                    $"a failed delivery must be answered with delivery_failed, then an ack; sent [{string.Join(", ", frames)}]");
                return "events, then delivery_failed";
            }

            context.Require(frames.Count == 1 && IsAck(frames[0], context.Sequence), $"once delivered, the message is acked; sent [{string.Join(", ", frames)}]");
            return "events";
        }

        private string CheckRejected(CaseContext context, PipelineItem? item, List<ServerFrame> frames, FuzzRandom random)
        {
            var code = context.Expected.Code!;
            context.Require(item is not { Kind: PipelineItemKind.Events }, $"a rejected message ({code}) reached the events queue: {Describe(item)}");
            context.Require(frames.Count >= 1 && frames[0].Type == ServerFrameType.Error, $"a rejected message needs an error frame first; sent [{string.Join(", ", frames)}]");
            var error = frames[0];
            context.Require(FrameCodes.Contains(error.Code ?? ""), $"error code '{error.Code}' is not a contract code");
            context.Require(error.Seq == context.Sequence && error.Code == code, $"expected error {code} for message {context.Sequence}; got {error.Code} for {error.Seq} ({error.Message})");
            context.Require(!string.IsNullOrEmpty(error.Message), "the error frame says nothing");
            if (context.Expected.FirstInvalidElement >= 0)
            {
                context.Require(MentionsNumber(error.Message!, context.Expected.FirstInvalidElement), $"the error must name element {context.Expected.FirstInvalidElement} of the batch: {error.Message}");
            }

            if (!DeadLetters)
            {
                context.Require(item is null, $"dead letters are off, yet {Describe(item)} was queued");
                context.Require(frames.Count == 2 && IsAck(frames[1], context.Sequence), $"with dead letters off, the error frame is followed by an ack; sent [{string.Join(", ", frames)}]");
                return code;
            }

            context.Require(item is { Kind: PipelineItemKind.DeadLetter } && item.Sequence == context.Sequence && ReferenceEquals(item.Target, UntrackedDelivery.Instance), $"a rejected message is one dead letter numbered {context.Sequence}, which no ack waits for; got {Describe(item)}");
            context.Require(item!.ErrorCode == code && item.Payload.AsSpan().SequenceEqual(context.Message.Bytes), $"the dead letter has code {item.ErrorCode} and {item.Payload.Length} bytes");
            context.Require(item.ErrorDetail.StartsWith($"message {context.Sequence}: ", StringComparison.Ordinal), $"dead-letter detail: {item.ErrorDetail}");
            frames.AddRange(Flush());
            context.Require(frames.Count == 2 && IsAck(frames[1], context.Sequence), $"the error frame answers the message and its ack follows, whatever becomes of the dead letter; sent [{string.Join(", ", frames)}]");

            // Whether the dead letter is written or fails, nothing more is sent for it.
            item.Complete(random.OneIn(20) ? "Local_MsgTimedOut: fuzz" : null);
            frames = Flush();
            context.Require(frames.Count == 0, $"nothing follows the dead letter's outcome; sent [{string.Join(", ", frames)}]");
            return code;
        }

        private PipelineItem? TakeOnlyItem(CaseContext context)
        {
            if (!_harness.Channel.Reader.TryRead(out var item))
            {
                return null;
            }

            context.Require(!_harness.Channel.Reader.TryRead(out var second), $"one message queued two items: {Describe(item)} and {Describe(second)}");
            return item;
        }

        private List<ServerFrame> Flush() =>
            [.. _harness.Flush().Select(frame => ServerFrame.Parse(Encoding.UTF8.GetBytes(frame)))];

        private static bool IsAck(ServerFrame frame, long upTo) => frame.Type == ServerFrameType.Ack && frame.UpTo == upTo;

        private static bool MentionsNumber(string text, int number)
        {
            var digits = number.ToString(System.Globalization.CultureInfo.InvariantCulture);
            for (var at = text.IndexOf(digits, StringComparison.Ordinal); at >= 0; at = text.IndexOf(digits, at + 1, StringComparison.Ordinal))
            {
                var before = at == 0 || !char.IsAsciiDigit(text[at - 1]);
                var after = at + digits.Length == text.Length || !char.IsAsciiDigit(text[at + digits.Length]);
                if (before && after)
                {
                    return true;
                }
            }

            return false;
        }

        private static string Describe(PipelineItem? item) => item is null
            ? "no item"
            : $"{item.Kind} item #{item.Sequence} ({(item.Kind == PipelineItemKind.Events ? $"{item.Events.Length} events" : item.ErrorCode)})";
    }

    /// <summary>Everything a failure message needs to reproduce a case.</summary>
    private sealed record CaseContext(string Where, long Sequence, bool DeadLetters, string? AllowedClientId, GeneratedMessage Message, OracleVerdict Expected)
    {
        public void Require(bool condition, string what)
        {
            if (!condition)
            {
                throw Fail(what);
            }
        }

        public Xunit.Sdk.XunitException Fail(string what) => new(
            $"{Where}: {what}\n" +
            $"  message {Sequence} of its session (dead letters {(DeadLetters ? "on" : "off")}, token clientId {AllowedClientId ?? "none"}), {Message.Shape}, {(Message.Binary ? "binary" : "text")}\n" +
            $"  oracle: {(Expected.Accepted ? $"valid, {Expected.Events.Count} events" : Expected.Code)}\n" +
            $"  bytes ({Message.Bytes.Length}): {Preview(Message.Bytes)}");
    }

    /// <summary>Hex and text of (the start of) a message.</summary>
    internal static string Preview(byte[] bytes)
    {
        const int Shown = 600;
        var shown = bytes.AsSpan(0, Math.Min(bytes.Length, Shown));
        return $"{Convert.ToHexString(shown)}{(bytes.Length > Shown ? "..." : "")}\n  as text: {Encoding.UTF8.GetString(shown)}";
    }
}
