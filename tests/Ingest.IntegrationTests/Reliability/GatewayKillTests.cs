using System.Globalization;
using System.Text.Json;
using Ingest.Kafka.Embedded;
using Ingest.Testing;

namespace Ingest.IntegrationTests.Reliability;

/// <summary>
/// The gateway killed with SIGKILL in the middle of a load, then started again (docs/protocol.md,
/// "Guarantees"): every acked event is in Kafka, clients that reconnect and send again what was not
/// acked lose nothing (at-least-once), and the only duplicates are events that had landed without
/// their ack reaching the client.
/// </summary>
public sealed class GatewayKillTests
{
    private const int Clients = 4;
    private const int EventsPerClient = 300;

    [Fact]
    public async Task Sigkill_MidLoad_Restart_EveryAckedEventInKafka_ResendsLoseNothing_DuplicatesOnlyOfUnacked()
    {
        using var cluster = EmbeddedKafkaCluster.Start(brokerCount: 1);
        cluster.CreateTopic("events", partitions: 4);
        cluster.CreateTopic("events.dlq", partitions: 1);
        var settings = new Dictionary<string, string> { ["Ingest:Kafka:BootstrapServers"] = cluster.BootstrapServers };

        // A slow broker (200 ms a request), so that the kill finds events read and not yet acked.
        cluster.SetRoundTripTime(1, TimeSpan.FromMilliseconds(200));
        long[] ackedAtKill;
        await using (var first = GatewayProcessHost.Start(settings))
        {
            await first.WaitUntilReadyAsync();
            var clients = new List<TestClient>();
            for (var c = 0; c < Clients; c++)
            {
                clients.Add(await TestClient.ConnectAsync(first.WebSocketUri));
            }

            // Each client sends an event every 2 ms (the load), until it has sent them all or the connection is gone.
            using var stop = new CancellationTokenSource();
            var senders = clients.Select((client, c) => SendPacedAsync(client, c, stop.Token)).ToArray();
            await Poll.UntilAsync(() => clients.Sum(c => c.AckedUpTo) >= Clients * EventsPerClient / 10, "a tenth of the events acked");
            first.Kill();
            Assert.True(await first.WaitForExitAsync(TimeSpan.FromSeconds(10)), "the gateway survived SIGKILL");
            await stop.CancelAsync();
            await Task.WhenAll(senders);
            foreach (var client in clients)
            {
                await client.WaitForCloseAsync();
            }

            ackedAtKill = [.. clients.Select(c => c.AckedUpTo)];
            foreach (var client in clients)
            {
                await client.DisposeAsync();
            }
        }

        Assert.True(ackedAtKill.Sum() < Clients * EventsPerClient, $"every event was acked before the kill ({string.Join(", ", ackedAtKill)}): nothing was in flight");
        cluster.SetRoundTripTime(1, TimeSpan.Zero);

        // Clients connect to the new process and send again everything that was not acked.
        await using (var second = GatewayProcessHost.Start(settings))
        {
            await second.WaitUntilReadyAsync();
            for (var c = 0; c < Clients; c++)
            {
                await using var client = await TestClient.ConnectAsync(second.WebSocketUri);
                var resent = 0;
                for (var i = (int)ackedAtKill[c] + 1; i <= EventsPerClient; i++)
                {
                    await client.SendAsync(Event(c, i));
                    resent++;
                }

                await client.WaitForAckAsync(resent);
            }
        }

        // Kafka: every event of every client at least once; a duplicate only of an event not acked before the kill.
        var records = TopicReader.ReadAll(cluster.BootstrapServers, "events", Clients * EventsPerClient);
        var landed = records.Select(r => Parse(r.Text)).ToList();
        TestContext.Current.TestOutputHelper?.WriteLine($"acked at the kill: {string.Join(", ", ackedAtKill)} of {EventsPerClient} each; records {records.Count} for {Clients * EventsPerClient} events, duplicates {records.Count - landed.Distinct().Count()}");
        for (var c = 0; c < Clients; c++)
        {
            var mine = landed.Where(e => e.Client == c).Select(e => e.Number).ToList();
            Assert.Equal(Enumerable.Range(1, EventsPerClient), mine.Distinct().Order());
            var duplicated = mine.GroupBy(n => n).Where(g => g.Count() > 1).Select(g => g.Key).ToList();
            Assert.All(duplicated, n => Assert.True(n > ackedAtKill[c], $"client {c}: event {n} was acked (up to {ackedAtKill[c]}) and yet landed twice"));
            Assert.All(mine.GroupBy(n => n), g => Assert.InRange(g.Count(), 1, 2));
        }
    }

    /// <summary>Sends the client's events one every 2 ms; ends when all are sent, the connection fails, or <paramref name="stop"/>.</summary>
    private static async Task SendPacedAsync(TestClient client, int c, CancellationToken stop)
    {
        using var pace = new PeriodicTimer(TimeSpan.FromMilliseconds(2));
        try
        {
            for (var i = 1; i <= EventsPerClient && await pace.WaitForNextTickAsync(stop); i++)
            {
                await client.SendAsync(Event(c, i));
            }
        }
        catch (Exception e) when (e is OperationCanceledException or System.Net.WebSockets.WebSocketException or IOException or ObjectDisposedException)
        {
            // The gateway was killed: what was not sent is sent again to the next one.
        }
    }

    private static string Event(int client, int number) =>
        string.Create(CultureInfo.InvariantCulture, $"{{\"msg\":\"{client}:{number}\",\"clientId\":\"client-{client}\",\"timestamp\":{number}}}");

    private static (int Client, int Number) Parse(string json)
    {
        var parts = JsonDocument.Parse(json).RootElement.GetProperty("msg").GetString()!.Split(':');
        return (int.Parse(parts[0], CultureInfo.InvariantCulture), int.Parse(parts[1], CultureInfo.InvariantCulture));
    }
}
