using System.Net.WebSockets;

namespace Ingest.Testing;

/// <summary>
/// Clients that each send events as fast as they can until their connection closes (or
/// <c>stop</c>), keeping what each sent, in order, to compare with what its acks cover.
/// </summary>
internal sealed class SendingLoad
{
    private readonly List<string>[] _sent;

    private SendingLoad(List<string>[] sent, Task completion)
    {
        _sent = sent;
        Completion = completion;
    }

    /// <summary>Ends once every client has stopped sending.</summary>
    public Task Completion { get; }

    /// <summary>The events client <paramref name="client"/> sent; read it after <see cref="Completion"/>.</summary>
    public IReadOnlyList<string> SentBy(int client) => _sent[client];

    /// <summary>Client c sends <c>eventOf(c, 0)</c>, <c>eventOf(c, 1)</c>, ...</summary>
    public static SendingLoad Start(IReadOnlyList<TestClient> clients, Func<int, int, string> eventOf, CancellationToken stop = default)
    {
        var sent = clients.Select(_ => new List<string>()).ToArray();
        var senders = clients.Select((client, c) => Task.Run(async () =>
        {
            for (var i = 0; !stop.IsCancellationRequested && !client.IsClosed; i++)
            {
                var e = eventOf(c, i);
                try
                {
                    await client.SendAsync(e);
                }
                catch (Exception ex) when (ex is WebSocketException or ObjectDisposedException or IOException or OperationCanceledException)
                {
                    // The connection is gone. OperationCanceledException too, though no token is
                    // involved: a send still writing when a failed receive aborts the socket fails with one.
                    break;
                }

                sent[c].Add(e);
            }
        }));
        return new SendingLoad(sent, Task.WhenAll(senders));
    }
}
