using System.Text.Json;
using Ingest.Contracts;
using Ingest.Testing;

namespace Ingest.IntegrationTests.Streaming;

/// <summary><c>GET /stream</c> delivers what lands in Kafka: every event, verbatim, filtered by clientId, in order.</summary>
public sealed class StreamDeliveryTests
{
    [Fact]
    public async Task BrokerOutage_EveryEventWrittenDuringAndAfterIt_IsStillStreamed()
    {
        using var cluster = Ingest.Kafka.Embedded.EmbeddedKafkaCluster.Start(brokerCount: 1);
        await using var gateway = await TestGateway.StartAsync(cluster: cluster);
        await using var stream = await SseClient.ConnectAsync(gateway.HttpUri);
        await stream.WaitForReadyAsync();
        await using var ws = await TestClient.ConnectAsync(gateway.WebSocketUri);
        string Event(int n) => $"{{\"msg\":\"outage {n}\",\"clientId\":\"c\",\"timestamp\":{n}}}";
        for (var n = 0; n < 10; n++)
        {
            await ws.SendAsync(Event(n));
        }

        await ws.WaitForAckAsync(10);
        await stream.WaitUntilAsync(() => stream.TelemetryCount == 10, "the events before the outage");

        // Read by the gateway while the broker is down; produced once it is back.
        cluster.SetBrokerDown(1);
        for (var n = 10; n < 20; n++)
        {
            await ws.SendAsync(Event(n));
        }

        await Poll.UntilAsync(() => gateway.Metrics.Snapshot(0, 0).EventsReceived == 20, "the gateway read the events sent during the outage");
        // An outage the gateway notices (its health check fails), not a blip.
        await Poll.UntilAsync(() => !gateway.GetService<Ingest.Gateway.Kafka.KafkaHealth>().IsReachable, "the gateway to see Kafka unreachable");
        cluster.SetBrokerUp(1);
        await ws.WaitForAckAsync(20);
        for (var n = 20; n < 30; n++)
        {
            await ws.SendAsync(Event(n));
        }

        await ws.WaitForAckAsync(30);
        await stream.WaitUntilAsync(() => stream.TelemetryCount + stream.DroppedTotal >= 30, "every event after the outage", TimeSpan.FromSeconds(30));
        Assert.Equal(0, stream.DroppedTotal);
        Assert.Equal(Enumerable.Range(0, 30).Select(n => $"outage {n}"), stream.Telemetry.Select(e => JsonDocument.Parse(e.Data).RootElement.GetProperty("event").GetProperty("msg").GetString()));
    }

    [Fact]
    public async Task FilteredSubscribers_GetExactlyTheirClientsEvents_ByteForByte_InOrder_AndAnUnfilteredOneGetsAll()
    {
        const int eventsPerClient = 300;
        // The second clientId is "béta / 1", sent JSON-escaped: the filter matches the key (the
        // unescaped clientId), and the event must come back with the escapes as sent.
        const string alphaId = "alpha", betaId = "b\u00e9ta / 1";
        await using var gateway = await TestGateway.StartAsync();
        await using var alpha = await SseClient.ConnectAsync(gateway.HttpUri, "/stream?clientId=alpha");
        await using var beta = await SseClient.ConnectAsync(gateway.HttpUri, "/stream?clientId=" + Uri.EscapeDataString(betaId));
        await using var all = await SseClient.ConnectAsync(gateway.HttpUri);
        Assert.Equal("{\"clientId\":\"alpha\"}", (await alpha.WaitForReadyAsync()).Data);
        Assert.Equal("{\"clientId\":\"b\u00e9ta / 1\"}", (await beta.WaitForReadyAsync()).Data);
        Assert.Equal("{\"clientId\":null}", (await all.WaitForReadyAsync()).Data);

        await using var ws = await TestClient.ConnectAsync(gateway.WebSocketUri);
        var sent = new Dictionary<string, List<string>> { [alphaId] = [], [betaId] = [] };
        string Event(string clientId, int n) => clientId == alphaId
            ? $"{{ \"msg\" : \"alpha {n}\", \"clientId\":\"alpha\",\"timestamp\":{n}, \"extra\": [1, {{\"x\": null}}] }}"
            : $"{{\"msg\":\"beta {n}\",\"clientId\":\"b\\u00e9ta / 1\",\"timestamp\":{n}}}";
        var before = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        for (var n = 0; n < eventsPerClient; n += 10)
        {
            // Single events and mixed batches, both clientIds on one connection.
            var batch = Enumerable.Range(n, 10).SelectMany(i => new[] { (alphaId, Event(alphaId, i)), (betaId, Event(betaId, i)) }).ToArray();
            foreach (var (clientId, e) in batch)
            {
                sent[clientId].Add(e);
            }

            if (n % 20 == 0)
            {
                await ws.SendAsync("[" + string.Join(",\n  ", batch.Select(b => b.Item2)) + "]");
            }
            else
            {
                foreach (var (_, e) in batch)
                {
                    await ws.SendAsync(e);
                }
            }
        }

        await ws.WaitForAckAsync(ws.Sent);
        // A last event per clientId: once a subscriber has it, everything sent before it (same
        // partition, earlier offsets) has arrived too, and nothing extra can still be on its way.
        const string alphaEnd = "{\"msg\":\"end\",\"clientId\":\"alpha\",\"timestamp\":1}";
        const string betaEnd = "{\"msg\":\"end\",\"clientId\":\"b\\u00e9ta / 1\",\"timestamp\":1}";
        await ws.SendAndWaitAckAsync("[" + alphaEnd + "," + betaEnd + "]");
        var after = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        await alpha.WaitUntilAsync(() => alpha.Telemetry.Any(e => e.RawEvent == alphaEnd), "alpha's last event");
        await beta.WaitUntilAsync(() => beta.Telemetry.Any(e => e.RawEvent == betaEnd), "beta's last event");
        await all.WaitUntilAsync(() => all.Telemetry.Count(e => e.RawEvent is alphaEnd or betaEnd) == 2, "both last events");

        Assert.Equal([.. sent[alphaId], alphaEnd], alpha.Telemetry.Select(e => e.RawEvent));
        Assert.Equal([.. sent[betaId], betaEnd], beta.Telemetry.Select(e => e.RawEvent));
        var everything = all.Telemetry;
        Assert.Equal(2 * eventsPerClient + 2, everything.Count);
        Assert.Equal([.. sent[alphaId], alphaEnd], everything.Where(e => ClientId(e) == alphaId).Select(e => e.RawEvent));
        Assert.Equal([.. sent[betaId], betaEnd], everything.Where(e => ClientId(e) == betaId).Select(e => e.RawEvent));
        Assert.All([alpha, beta, all], s => Assert.Equal(0, s.DroppedTotal));

        // Every frame describes its record: id, partition, offset, key and value as in Kafka.
        var records = TopicReader.ReadAll(gateway.Kafka.BootstrapServers, gateway.Topic, everything.Count)
            .ToDictionary(r => (r.Partition, r.Offset));
        foreach (var e in everything)
        {
            using var data = JsonDocument.Parse(e.Data);
            var root = data.RootElement;
            var partition = root.GetProperty("partition").GetInt32();
            var offset = root.GetProperty("offset").GetInt64();
            Assert.Equal($"{partition}:{offset}", e.Id);
            var record = records[(partition, offset)];
            Assert.Equal(record.Key, root.GetProperty("clientId").GetString());
            Assert.Equal(record.Text, e.RawEvent);
            // By default the record's timestamp is when the gateway read the event (its ingest-source says it is the gateway's).
            Assert.True(record.Headers.ContainsKey(IngestHeaders.Source));
            Assert.Equal(record.Timestamp.UnixTimestampMs, root.GetProperty("receivedAt").GetInt64());
            Assert.Equal(record.Timestamp.UnixTimestampMs, root.GetProperty("timestamp").GetInt64());
            Assert.InRange(root.GetProperty("receivedAt").GetInt64(), before, after);
            Assert.InRange(root.GetProperty("timestamp").GetInt64(), before, after);
        }
    }

    [Fact]
    public async Task Subscriber_GetsEventsWrittenAfterReady_NotTheTopicsHistory()
    {
        await using var gateway = await TestGateway.StartAsync();
        await using var ws = await TestClient.ConnectAsync(gateway.WebSocketUri);
        await ws.SendAndWaitAckAsync("{\"msg\":\"history\",\"clientId\":\"c\",\"timestamp\":1}");
        await using var subscriber = await SseClient.ConnectAsync(gateway.HttpUri);
        await subscriber.WaitForReadyAsync();

        const string live = "{\"msg\":\"live\",\"clientId\":\"c\",\"timestamp\":2}";
        await ws.SendAndWaitAckAsync(live);
        await subscriber.WaitUntilAsync(() => subscriber.TelemetryCount >= 1, "the live event");

        Assert.Equal(live, Assert.Single(subscriber.Telemetry).RawEvent);
    }

    private static string? ClientId(SseEvent e)
    {
        using var data = JsonDocument.Parse(e.Data);
        return data.RootElement.GetProperty("clientId").GetString();
    }
}
