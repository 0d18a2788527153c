using System.Diagnostics.Metrics;
using System.Text;
using Ingest.Contracts;
using Ingest.Gateway.Configuration;
using Ingest.Gateway.Diagnostics;
using Ingest.Gateway.Lifecycle;
using Ingest.Gateway.Limits;
using Ingest.Gateway.Pipeline;
using Ingest.Gateway.Sessions;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;

namespace Ingest.UnitTests.Sessions;

/// <summary>
/// An <see cref="IngestSession"/> with no socket: messages go in as bytes, its pipeline items come
/// out of a real <see cref="EventChannel"/> (the test plays Kafka by completing them), and its
/// outbound frames are taken the way the connection's writer takes them.
/// </summary>
internal sealed class SessionHarness : IDisposable
{
    private readonly ServiceProvider _services;
    private readonly List<string> _frames = [];

    /// <param name="configure">Changes to the default options.</param>
    /// <param name="allowedClientId">The only clientId the session's token allows.</param>
    /// <param name="time">The clock (shared when sessions share <paramref name="addressRejects"/>); a new one by default.</param>
    /// <param name="addressRejects">The allowance of rejections the session's address shares.</param>
    public SessionHarness(Action<IngestOptions>? configure = null, string? allowedClientId = null, FakeTimeProvider? time = null, AddressRejects? addressRejects = null)
    {
        var settings = new IngestOptions();
        configure?.Invoke(settings);
        var options = Options.Create(settings);
        _services = new ServiceCollection().AddMetrics().BuildServiceProvider();
        Time = time ?? NewClock();
        var metrics = new IngestMetrics(_services.GetRequiredService<IMeterFactory>());
        Channel = new EventChannel(options, metrics);
        Shutdown = new ShutdownBudget(options, Time);
        EventRate = new EventRateLimiter(options);
        Queue = new QueueBudget(options);
        Session = new IngestSession(
            new SessionContext(options, Channel, metrics, Time, Shutdown, EventRate, new ReassemblyBudget(options), Queue, NullLoggerFactory.Instance),
            "conn-1",
            allowedClientId,
            addressRejects);
    }

    /// <summary>The clock a harness starts with.</summary>
    public static FakeTimeProvider NewClock() => new(DateTimeOffset.FromUnixTimeMilliseconds(1_700_000_000_000));

    public IngestSession Session { get; }

    public EventRateLimiter EventRate { get; }

    /// <summary>The budget the session's queued messages take their bytes from.</summary>
    public QueueBudget Queue { get; }

    public EventChannel Channel { get; }

    public FakeTimeProvider Time { get; }

    public ShutdownBudget Shutdown { get; }

    /// <summary>Every frame sent so far, as JSON text (acks included), in order.</summary>
    public IReadOnlyList<string> Frames => _frames;

    public IEnumerable<ServerFrame> ParsedFrames => _frames.Select(f => ServerFrame.Parse(Encoding.UTF8.GetBytes(f)));

    /// <summary>The close frame, once the session queued one.</summary>
    public (int Status, string Description)? Closed { get; private set; }

    /// <summary>Whether the session ended its outbound queue.</summary>
    public bool Completed => Session.Outbound.Completion.IsCompleted;

    /// <summary>A shutdown, as the gateway runs it: the budget begins, then the session drains.</summary>
    public void BeginShutdown()
    {
        Shutdown.Begin();
        Session.BeginDrain();
    }

    public ValueTask SendAsync(string message) => Session.OnMessageAsync(Encoding.UTF8.GetBytes(message), binary: false);

    /// <summary>The next item the session queued for Kafka.</summary>
    public PipelineItem TakeItem()
    {
        Assert.True(Channel.Reader.TryRead(out var item), "the session queued nothing for Kafka");
        return item;
    }

    public void AssertNoItem() => Assert.False(Channel.Reader.TryRead(out _), "the session queued an item for Kafka");

    /// <summary>Sends what the session has queued, as the connection's writer does, and returns the new frames.</summary>
    public IReadOnlyList<string> Flush()
    {
        var before = _frames.Count;
        while (Session.Outbound.TryRead(out var frame))
        {
            switch (frame.Kind)
            {
                case OutboundKind.Text:
                    _frames.Add(Encoding.UTF8.GetString(frame.Text!));
                    Session.OnSent(frame);
                    break;
                case OutboundKind.Ack or OutboundKind.FinalAck:
                    if (Session.TryTakeAck(frame.Kind == OutboundKind.FinalAck, out var upTo))
                    {
                        var ack = new byte[ServerFrames.MaxAckLength];
                        _frames.Add(Encoding.UTF8.GetString(ack, 0, ServerFrames.WriteAck(ack, upTo)));
                    }

                    break;
                case OutboundKind.Close:
                    Closed = (frame.CloseStatus, frame.CloseDescription);
                    break;
            }
        }

        return _frames.Skip(before).ToArray();
    }

    /// <summary>Sends frames until the close sequence has queued its close frame.</summary>
    public async Task FlushUntilClosedAsync()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        while (Closed is null)
        {
            Flush();
            if (Closed is null)
            {
                Assert.True(await Session.Outbound.WaitToReadAsync(timeout.Token), "the session ended without a close frame");
            }
        }
    }

    public void Dispose()
    {
        Shutdown.Dispose();
        _services.Dispose();
    }
}
