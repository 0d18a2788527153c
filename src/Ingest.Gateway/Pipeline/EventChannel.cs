using System.Threading.Channels;
using Ingest.Gateway.Diagnostics;
using Ingest.Gateway.Configuration;
using Microsoft.Extensions.Options;

namespace Ingest.Gateway.Pipeline;

/// <summary>
/// The bounded queue between the WebSocket connections (many writers) and the Kafka producer (one
/// reader). When it is full, <see cref="WriteAsync"/> waits, so connections stop reading their
/// sockets and TCP pushes back on the clients: memory stays bounded and nothing is dropped.
/// </summary>
internal sealed class EventChannel
{
    private readonly Channel<PipelineItem> _channel;

    public EventChannel(IOptions<IngestOptions> options, IngestMetrics metrics)
    {
        Capacity = options.Value.Channel.Capacity;
        _channel = Channel.CreateBounded<PipelineItem>(new BoundedChannelOptions(Capacity)
        {
            SingleReader = true,
            SingleWriter = false,
            FullMode = BoundedChannelFullMode.Wait,
            AllowSynchronousContinuations = false,
        });
        metrics.Meter.CreateObservableGauge("ingest.channel.depth", () => Count, "{message}", "Messages waiting for the Kafka producer");
        metrics.Meter.CreateObservableGauge("ingest.channel.capacity", () => Capacity, "{message}", "Capacity of the ingest channel");
    }

    public int Capacity { get; }

    /// <summary>Messages waiting for the producer.</summary>
    public int Count => _channel.Reader.Count;

    /// <summary>True while the channel is full and writers wait.</summary>
    public bool IsSaturated => Count >= Capacity;

    public ChannelReader<PipelineItem> Reader => _channel.Reader;

    /// <summary>Queues a message, waiting while the channel is full.</summary>
    public ValueTask WriteAsync(PipelineItem message, CancellationToken cancellationToken) =>
        _channel.Writer.TryWrite(message) ? ValueTask.CompletedTask : _channel.Writer.WriteAsync(message, cancellationToken);

    /// <summary>No more messages: the producer drains what is queued and stops.</summary>
    public void Complete() => _channel.Writer.TryComplete();
}
