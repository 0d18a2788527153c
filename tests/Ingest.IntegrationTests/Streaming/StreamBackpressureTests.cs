using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Ingest.Contracts;
using Ingest.Gateway.Streaming;
using Ingest.Testing;

namespace Ingest.IntegrationTests.Streaming;

/// <summary>Slow and stuck subscribers lose their own events, and slow down nothing else.</summary>
[Collection(MeasurementCollection.Name)]
public sealed class StreamBackpressureTests
{
    [Fact]
    public async Task StuckSubscriber_SlowsNeitherIngestNorAnotherSubscriber_AndItsEventsAreDropped()
    {
        const int eventsPerRun = 50_000, rounds = 3;
        // Per-subscriber queue of 20,000 events (~5 MB here): far below one run, so the stuck
        // subscriber, which takes every event, overflows every time. The reading subscriber takes
        // one connection's events (a quarter): a client in the test process, on the gateway's two
        // cores, that read everything fell more than 20,000 events behind in one loaded run.
        // (The byte bound of the queues is raised to match: at the default 256 KB it would bind first.)
        await using var gateway = await TestGateway.StartAsync(new Dictionary<string, string?>
        {
            ["Ingest:Stream:QueueCapacity"] = "20000",
            ["Ingest:Stream:QueueBytes"] = "16777216",
        });
        var hub = gateway.GetService<StreamHub>();
        var received = new HashSet<string>(StringComparer.Ordinal);
        await using var reader = await SseClient.ConnectAsync(gateway.HttpUri, $"/stream?clientId={Uri.EscapeDataString(ReadClientId)}", retain: false, observer: e =>
        {
            if (e.Type == "telemetry")
            {
                received.Add(Message(e.Data));
            }
        });
        await reader.WaitForReadyAsync();

        // Warm-up (JIT, connections, producer): not measured.
        await IngestAsync(gateway, "warm-up", 10_000);
        await reader.WaitUntilAsync(() => reader.TelemetryCount >= 10_000 / Connections, "the warm-up events");

        var free = new List<Run>();
        var stuck = new List<Run>();
        var expected = 10_000L / Connections;
        var ingested = 10_000L;
        for (var round = 0; round < rounds; round++)
        {
            free.Add(await MeasureAsync(gateway, reader, $"free {round}", eventsPerRun, expected += eventsPerRun / Connections));
            ingested += eventsPerRun;

            var droppedBefore = gateway.Metrics.Snapshot(0, 0).StreamDropped;
            Run run;
            using (await StuckSubscriber.ConnectAsync(gateway.HttpUri))
            {
                await Poll.UntilAsync(() => hub.Count == 2, "the stuck subscriber to subscribe");
                run = await MeasureAsync(gateway, reader, $"stuck {round}", eventsPerRun, expected += eventsPerRun / Connections);

                // The reading subscriber has all of its clientId's events; the other clientIds' may
                // still be on their way through the hub: the stuck one must have been offered them all.
                ingested += eventsPerRun;
                await Poll.UntilAsync(() => hub.Published >= ingested, "the hub to publish the whole run");
            }

            // Closing the stuck client releases its subscription, though its writes never completed.
            await Poll.UntilAsync(() => hub.Count == 1, "the stuck subscriber to be released");
            stuck.Add(run with { StuckDropped = gateway.Metrics.Snapshot(0, 0).StreamDropped - droppedBefore });
        }

        var output = TestContext.Current.TestOutputHelper;
        foreach (var run in free.Concat(stuck))
        {
            output?.WriteLine($"{run.Name}: ingest {run.Ingest.TotalMilliseconds:F0} ms ({eventsPerRun / run.Ingest.TotalSeconds:F0} events/s), reading subscriber complete after {run.Delivered.TotalMilliseconds:F0} ms, stuck subscriber dropped {run.StuckDropped}");
        }

        // Best run against best run: a spike from something else on the machine lengthens a run, it
        // cannot shorten one, so the fastest of each kind is the least disturbed measurement.
        var ingestRatio = stuck.Min(r => r.Ingest.TotalMilliseconds) / free.Min(r => r.Ingest.TotalMilliseconds);
        var deliveryRatio = stuck.Min(r => r.Delivered.TotalMilliseconds) / free.Min(r => r.Delivered.TotalMilliseconds);
        output?.WriteLine($"with/without a stuck subscriber, fastest runs: ingest time ratio {ingestRatio:F2}, reading subscriber's completion time ratio {deliveryRatio:F2}");

        // The reading subscriber got every event, none dropped; the stuck one lost events in every round.
        Assert.Equal(expected, reader.TelemetryCount);
        Assert.Equal(expected, received.Count);
        Assert.Equal(0, reader.DroppedTotal);
        Assert.All(stuck, run => Assert.True(run.StuckDropped > 0, $"{run.Name}: the stuck subscriber dropped nothing"));
        // Generous bounds: the runs share two cores with everything else on the machine.
        Assert.True(ingestRatio < 2, $"ingest took {ingestRatio:F2} times as long with a stuck subscriber");
        Assert.True(deliveryRatio < 2, $"the reading subscriber took {deliveryRatio:F2} times as long with a stuck subscriber");

        var stats = GatewayStats.Parse(await gateway.Http.GetStringAsync(new Uri("/stats", UriKind.Relative), TestContext.Current.CancellationToken));
        Assert.Equal(1, stats.StreamSubscribers);
        Assert.Equal(stuck.Sum(r => r.StuckDropped), stats.StreamDropped);
    }

    [Fact]
    public async Task SlowSubscriber_IsToldWhatWasDropped_AndDeliveredPlusDroppedAccountsForEveryEvent()
    {
        const int events = 5_000;
        await using var gateway = await TestGateway.StartAsync(new Dictionary<string, string?> { ["Ingest:Stream:QueueCapacity"] = "4" });
        await using var slow = await SseClient.ConnectAsync(gateway.HttpUri, "/stream?clientId=slow", receiveBufferSize: 4096);
        await slow.WaitForReadyAsync();
        slow.Pause();

        // About 1 KB an event: 5 MB, more than the socket buffers hold while the client does not read.
        var padding = new string('p', 1000);
        await using (var ws = await TestClient.ConnectAsync(gateway.WebSocketUri))
        {
            for (var n = 0; n < events; n += 50)
            {
                await ws.SendAsync("[" + string.Join(',', Enumerable.Range(n, 50).Select(i => $"{{\"msg\":\"{i}\",\"clientId\":\"slow\",\"timestamp\":{i},\"pad\":\"{padding}\"}}")) + "]");
            }

            await ws.WaitForAckAsync(ws.Sent);
        }

        await Poll.UntilAsync(() => gateway.Metrics.Snapshot(0, 0).StreamDropped > 0, "drops for the slow subscriber");
        slow.Resume();
        await slow.WaitUntilAsync(() => slow.TelemetryCount + slow.DroppedTotal >= events, "every event delivered or declared dropped", TimeSpan.FromSeconds(60));

        // Walk the stream: each notice stands exactly for the events missing at its place.
        var next = 0L;
        var notices = 0;
        foreach (var e in slow.Events.Where(e => e.Type is "telemetry" or "dropped"))
        {
            using var data = JsonDocument.Parse(e.Data);
            if (e.Type == "dropped")
            {
                var dropped = data.RootElement.GetProperty("dropped").GetInt64();
                Assert.True(dropped > 0, "a notice of zero drops");
                notices++;
                next += dropped;
            }
            else
            {
                Assert.Equal(next.ToString(CultureInfo.InvariantCulture), data.RootElement.GetProperty("event").GetProperty("msg").GetString());
                next++;
            }
        }

        Assert.Equal(events, next);
        Assert.True(notices > 0);
        Assert.Equal(events, slow.TelemetryCount + slow.DroppedTotal);
        Assert.Equal(gateway.Metrics.Snapshot(0, 0).StreamDropped, slow.DroppedTotal);
        Assert.InRange(slow.TelemetryCount, 1, events - 1);
    }

    /// <summary>Connections each run ingests over; each sends as its own clientId.</summary>
    private const int Connections = 4;

    /// <summary>The clientId whose events the reading subscriber takes.</summary>
    private const string ReadClientId = "load 0";

    private sealed record Run(string Name, TimeSpan Ingest, TimeSpan Delivered, long StuckDropped = 0);

    /// <summary>Ingests a run and waits until the reading subscriber has all of it.</summary>
    private static async Task<Run> MeasureAsync(TestGateway gateway, SseClient reader, string name, int events, long readerTotal)
    {
        var clock = Stopwatch.StartNew();
        var ingest = await IngestAsync(gateway, name, events);
        await reader.WaitUntilAsync(() => reader.TelemetryCount >= readerTotal, $"the events of {name}", TimeSpan.FromSeconds(120));
        return new Run(name, ingest, clock.Elapsed);
    }

    /// <summary>
    /// Sends <paramref name="events"/> events over 4 connections in batches of 100, as fast as
    /// the gateway takes them, and returns the time from the first send to the last ack.
    /// </summary>
    private static async Task<TimeSpan> IngestAsync(TestGateway gateway, string name, int events)
    {
        const int batch = 100;
        var payloads = Enumerable.Range(0, Connections)
            .Select(c => Enumerable.Range(0, events / Connections / batch)
                .Select(b => "[" + string.Join(',', Enumerable.Range(b * batch, batch).Select(i => $"{{\"msg\":\"{name} {c} {i}\",\"clientId\":\"load {c}\",\"timestamp\":{i}}}")) + "]")
                .ToArray())
            .ToArray();
        var clients = new List<TestClient>();
        for (var c = 0; c < Connections; c++)
        {
            clients.Add(await TestClient.ConnectAsync(gateway.WebSocketUri));
        }

        var clock = Stopwatch.StartNew();
        await Task.WhenAll(clients.Select(async (client, c) =>
        {
            foreach (var payload in payloads[c])
            {
                await client.SendAsync(payload);
            }

            await client.WaitForAckAsync(client.Sent, TimeSpan.FromSeconds(120));
            Assert.Empty(client.Errors);
        }));
        var elapsed = clock.Elapsed;
        foreach (var client in clients)
        {
            await client.CloseAsync();
            await client.DisposeAsync();
        }

        return elapsed;
    }

    /// <summary>The msg of a telemetry frame's event, without parsing the whole frame.</summary>
    private static string Message(string data)
    {
        var start = data.IndexOf("\"msg\":\"", StringComparison.Ordinal) + 7;
        return data[start..data.IndexOf('"', start)];
    }
}
