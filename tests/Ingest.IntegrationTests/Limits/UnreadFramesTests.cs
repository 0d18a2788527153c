using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net.Sockets;
using Ingest.Contracts;
using Ingest.Gateway.Sessions;
using Ingest.Gateway.WebSockets;
using Ingest.Testing;

namespace Ingest.IntegrationTests.Limits;

/// <summary>
/// Clients that send and do not read what the gateway sends them (docs/protocol.md, "Limits a
/// connection lives with"): the unacked cap pauses reading, the outbound cap stops reading and
/// closes with 1008, the send timeout drops the connection; other clients are served throughout.
/// </summary>
/// <remarks>
/// The never-reading clients are <see cref="RawWebSocketClient"/>s with a 1 KB receive buffer that
/// never call receive, so the gateway's sends block in TCP. Kestrel and loopback's autotuned send
/// buffer take well over a megabyte of frames before a send blocks (measured): acks alone, being
/// cumulative (~25 bytes, about a thousand a second here), would take many seconds to fill that, so
/// the clients send invalid messages too, whose error frames (one each, ~130 bytes) fill it within
/// a second.
/// </remarks>
public sealed class UnreadFramesTests
{
    private const string Valid = "{\"msg\":\"ok\",\"clientId\":\"c\",\"timestamp\":1}";

    /// <summary>The clients here send invalid messages for their error frames: the allowances of rejections, the connection's and its address's, off.</summary>
    private const string NoRejectAllowance = "Ingest:Limits:InvalidMessageBurst";

    private const string NoAddressRejectAllowance = "Ingest:Limits:InvalidMessageBurstPerAddress";

    /// <summary>Odd messages are invalid (an error frame each), even ones valid (acked once in Kafka).</summary>
    private static string Mixed(long sequence) => sequence % 2 == 1 ? "not json" : Valid;

    [Fact]
    public async Task UnackedCap_ANonReadingClientIsReadNoFurther_FiftyMessagesPastItsLastAck_UntilItReads()
    {
        const int cap = 50;
        await using var gateway = await TestGateway.StartAsync(new Dictionary<string, string?>
        {
            [NoRejectAllowance] = "0",
            [NoAddressRejectAllowance] = "0",
            ["Ingest:WebSocket:MaxUnackedMessages"] = cap.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["Ingest:Kafka:LingerMs"] = "0", // valid messages acked sooner: the socket fills sooner
        });
        var connection = await ConnectNonReadingAsync(gateway);
        using var stuck = connection.Client;
        var session = connection.Session;
        await using var flood = new Flood(stuck, Mixed);

        // The gateway reads until its frames fill the socket, then 50 messages more, and waits.
        // (The client's sends are soon held back by TCP too, but not stopped: the gateway's receive
        // window keeps growing a little.)
        var plateau = await SettledAsync(() => session.MessagesReceived, "the stuck connection's messages to stop being read");
        var sentAtPlateau = flood.Sent;
        Assert.True(sentAtPlateau > plateau, $"the client sent {sentAtPlateau}, the gateway read {plateau}: nothing is held back");
        Assert.False(session.Reading.IsStopped, "the connection is paused, not being closed");

        // Another connection keeps getting its acks meanwhile.
        await using (var other = await TestClient.ConnectAsync(gateway.WebSocketUri))
        {
            for (var i = 0; i < 5; i++)
            {
                await other.SendAndWaitAckAsync(Valid);
            }
        }

        Assert.Equal(plateau, session.MessagesReceived);

        // The client reads at last (with a window that takes the megabytes waiting for it quickly):
        // the acks go out and reading resumes, to the last message sent.
        stuck.Socket.ReceiveBufferSize = 1 << 20;
        var frames = new ConcurrentQueue<ServerFrame>();
        var reading = ReadFramesAsync(stuck, frames);
        var total = await flood.StopAsync();
        await Poll.UntilAsync(() => frames.Any(f => f.Type == ServerFrameType.Ack && f.UpTo >= total), $"the ack of all {total} messages");
        await stuck.SendCloseAsync();
        await reading.WaitAsync(TimeSpan.FromSeconds(30), TestContext.Current.CancellationToken);

        // The pause was the cap: the last ack the gateway handed over before it stopped reading was
        // for exactly 50 messages fewer than it had read.
        var acks = frames.Where(f => f.Type == ServerFrameType.Ack).Select(f => f.UpTo).ToList();
        TestContext.Current.TestOutputHelper?.WriteLine($"paused at {plateau} of {sentAtPlateau} sent; {total} in all; {acks.Count} acks");
        Assert.Contains(plateau - cap, acks);
        Assert.Equal(total, session.MessagesReceived);
        var errors = frames.Where(f => f.Type == ServerFrameType.Error).Select(f => f.Seq).ToList();
        Assert.Equal(Enumerable.Range(0, (int)((total + 1) / 2)).Select(i => 2L * i + 1), errors);
    }

    [Fact]
    public async Task OutboundCap_ReadingStops_AndTheClientThatReadsAtLastGetsEveryFrame_TheFinalAck_AndClose1008()
    {
        await using var gateway = await TestGateway.StartAsync(new Dictionary<string, string?> { ["Ingest:WebSocket:MaxOutboundBytes"] = "65536", [NoRejectAllowance] = "0", [NoAddressRejectAllowance] = "0" });
        var connection = await ConnectNonReadingAsync(gateway);
        using var stuck = connection.Client;
        var session = connection.Session;
        await using var flood = new Flood(stuck, _ => "not json");

        await Poll.UntilAsync(() => session.Reading.IsStopped, "reading to stop at the outbound cap", TimeSpan.FromSeconds(20));
        var read = session.MessagesReceived;

        // Stopped, not paused: the gateway takes the client's bytes to drop them, and numbers nothing more.
        var sentAtStop = flood.Sent;
        await Poll.UntilAsync(() => flood.Sent > sentAtStop + 1_000, "the client's sends to be taken (and dropped)", TimeSpan.FromSeconds(20));
        Assert.Equal(read, session.MessagesReceived);
        Assert.Equal(1, gateway.GetService<ConnectionRegistry>().Active);

        await flood.StopAsync();
        stuck.Socket.ReceiveBufferSize = 1 << 20;
        var transcript = await stuck.ReadUntilEndAsync(TimeSpan.FromSeconds(30));

        var close = transcript.Close;
        Assert.NotNull(close);
        Assert.Equal(1008, close.CloseStatus);
        Assert.Equal("too many unread frames", close.CloseReason);
        var texts = transcript.Frames.Where(f => f.Opcode == Opcode.Text).Select(f => ServerFrame.Parse(f.Payload)).ToList();
        Assert.Equal(Enumerable.Range(1, (int)read).Select(i => (long)i), texts.Where(f => f.Type == ServerFrameType.Error).Select(f => f.Seq));
        Assert.Equal(ServerFrameType.Ack, texts[^1].Type);
        Assert.Equal(read, texts[^1].UpTo);
        // For the record: what the client got is what TCP held before a send blocked, plus at most the
        // cap (and the one frame that crossed it) queued in the gateway.
        var errorBytes = transcript.Frames.Where(f => f.Opcode == Opcode.Text).Sum(f => (long)f.Payload.Length);
        TestContext.Current.TestOutputHelper?.WriteLine($"read {read} messages; {errorBytes} bytes of frames for the client");
    }

    [Fact]
    public async Task NeverReadingClient_IsDroppedSoonAfterTheSendTimeout_AndOthersAreServed()
    {
        await using var gateway = await TestGateway.StartAsync(new Dictionary<string, string?>
        {
            [NoRejectAllowance] = "0",
            [NoAddressRejectAllowance] = "0",
            ["Ingest:WebSocket:MaxOutboundBytes"] = "65536",
            ["Ingest:WebSocket:SendTimeoutMs"] = "2000",
        });
        var registry = gateway.GetService<ConnectionRegistry>();
        using var stuck = (await ConnectNonReadingAsync(gateway)).Client;
        var clock = Stopwatch.StartNew();
        await using var flood = new Flood(stuck, _ => "not json");

        await Poll.UntilAsync(() => registry.Active == 0 && gateway.Metrics.Snapshot(0, 0).ConnectionsActive == 0, "the never-reading connection to be dropped", TimeSpan.FromSeconds(30));
        var droppedAfter = clock.Elapsed;
        var (end, _) = await stuck.DrainUntilEndAsync(TimeSpan.FromSeconds(10));
        TestContext.Current.TestOutputHelper?.WriteLine($"dropped after {droppedAfter.TotalMilliseconds:F0} ms ({end})");

        // No frame can have waited 2 s before 2 s have passed; then the drop follows within a few seconds.
        Assert.InRange(droppedAfter, TimeSpan.FromSeconds(2), TimeSpan.FromSeconds(15));
        await Poll.UntilAsync(() => flood.Failure is SocketException, "the client's sends to fail on the dropped connection", TimeSpan.FromSeconds(10));

        await using var other = await TestClient.ConnectAsync(gateway.WebSocketUri);
        await other.SendAndWaitAckAsync(Valid);
    }

    [Fact]
    public async Task SendTimeout_AClientThatTakesNoFrame_IsDropped_ThoughNoOtherLimitWouldEndIt()
    {
        await using var gateway = await TestGateway.StartAsync(new Dictionary<string, string?>
        {
            [NoRejectAllowance] = "0",
            [NoAddressRejectAllowance] = "0",
            ["Ingest:WebSocket:SendTimeoutMs"] = "2000",
            ["Ingest:WebSocket:MaxOutboundBytes"] = "1073741824", // the largest: the outbound cap never closes it
        });
        var registry = gateway.GetService<ConnectionRegistry>();
        var connection = await ConnectNonReadingAsync(gateway);
        using var stuck = connection.Client;
        var session = connection.Session;
        var clock = Stopwatch.StartNew();
        await using var flood = new Flood(stuck, Mixed);

        await Poll.UntilAsync(() => registry.Active == 0, "the connection to be dropped", TimeSpan.FromSeconds(30));
        var droppedAfter = clock.Elapsed;
        var (end, _) = await stuck.DrainUntilEndAsync(TimeSpan.FromSeconds(10));
        TestContext.Current.TestOutputHelper?.WriteLine($"dropped after {droppedAfter.TotalMilliseconds:F0} ms ({end}), {session.MessagesReceived} messages read");

        Assert.InRange(droppedAfter, TimeSpan.FromSeconds(2), TimeSpan.FromSeconds(15));
        await Poll.UntilAsync(() => flood.Failure is SocketException, "the client's sends to fail on the dropped connection", TimeSpan.FromSeconds(10));
        Assert.Equal(0, gateway.Metrics.Snapshot(0, 0).ConnectionsActive);
    }

    /// <summary>A WebSocket with a 1 KB receive buffer that the test never reads, and its session in the gateway.</summary>
    private static async Task<(RawWebSocketClient Client, IngestSession Session)> ConnectNonReadingAsync(TestGateway gateway)
    {
        var registry = gateway.GetService<ConnectionRegistry>();
        var client = await RawWebSocketClient.ConnectAsync(gateway.WebSocketUri, receiveBufferSize: 1024);
        client.Socket.SendBufferSize = 4096;
        Assert.Equal(101, client.Response.Status);
        await Poll.UntilAsync(() => registry.Sessions.Count == 1, "the connection's session");
        return (client, registry.Sessions.Single());
    }

    /// <summary>Waits until <paramref name="value"/> has not changed for a second, and returns it.</summary>
    private static async Task<long> SettledAsync(Func<long> value, string what)
    {
        var last = value();
        var since = Stopwatch.StartNew();
        await Poll.UntilAsync(
            () =>
            {
                var now = value();
                if (now != last)
                {
                    (last, since) = (now, Stopwatch.StartNew());
                }

                // Two quiet seconds: one was not enough on a loaded machine (a fresh-clone run,
                // with a build beside it, saw reading go on after a one-second pause).
                return now > 0 && since.Elapsed >= TimeSpan.FromSeconds(2);
            },
            what,
            TimeSpan.FromSeconds(30));
        return last;
    }

    /// <summary>Reads frames into <paramref name="frames"/> until the gateway ends the connection.</summary>
    private static Task ReadFramesAsync(RawWebSocketClient client, ConcurrentQueue<ServerFrame> frames) => Task.Run(
        async () =>
        {
            while (await client.ReceiveFrameAsync(TestContext.Current.CancellationToken) is { } frame)
            {
                if (frame.Opcode == Opcode.Text)
                {
                    frames.Enqueue(ServerFrame.Parse(frame.Payload));
                }
            }
        },
        TestContext.Current.CancellationToken);

    /// <summary>
    /// Sends messages as fast as the socket takes them, on its own task, until stopped (after the send
    /// in progress, so that no frame is cut) or until the socket fails.
    /// </summary>
    private sealed class Flood : IAsyncDisposable
    {
        private readonly CancellationTokenSource _stop = new();
        private readonly Task _loop;
        private long _sent;

        public Flood(RawWebSocketClient client, Func<long, string> message) =>
            _loop = Task.Run(
                async () =>
                {
                    try
                    {
                        while (!_stop.IsCancellationRequested)
                        {
                            await client.SendTextAsync(message(Sent + 1));
                            Interlocked.Increment(ref _sent);
                        }
                    }
                    catch (Exception e) when (e is SocketException or ObjectDisposedException)
                    {
                        Failure = e;
                    }
                },
                TestContext.Current.CancellationToken);

        /// <summary>Messages handed whole to the socket.</summary>
        public long Sent => Interlocked.Read(ref _sent);

        /// <summary>Why sending ended, when the socket failed.</summary>
        public Exception? Failure { get; private set; }

        /// <summary>Stops after the send in progress completes; returns how many were sent.</summary>
        public async Task<long> StopAsync()
        {
            await _stop.CancelAsync();
            await _loop.WaitAsync(TimeSpan.FromSeconds(30), TestContext.Current.CancellationToken);
            return Sent;
        }

        /// <summary>
        /// Stops without waiting: a send blocked in TCP ends when the test disposes the socket after
        /// this (the loop takes that failure as its end).
        /// </summary>
        public async ValueTask DisposeAsync() => await _stop.CancelAsync();
    }
}
