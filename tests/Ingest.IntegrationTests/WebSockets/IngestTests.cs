using System.Globalization;
using System.Text;
using Ingest.Contracts;
using Ingest.Testing;

namespace Ingest.IntegrationTests.WebSockets;

/// <summary>The happy path of the wire contract: events in, records in Kafka, acks out.</summary>
public sealed class IngestTests
{
    [Fact]
    public async Task SingleEvent_LandsWithExactBytesKeyAndHeaders_AndIsAcked()
    {
        // An instance id with a space: ingest-source splits at the first one, after the connection id.
        await using var gateway = await TestGateway.StartAsync(new Dictionary<string, string?> { ["Ingest:InstanceId"] = "gw test 1" });
        await using var client = await TestClient.ConnectAsync(gateway.WebSocketUri);
        // Unusual spacing and an escaped character: the record must keep the bytes as sent.
        const string sent = "{ \"msg\" : \"msg number 1\",\"clientId\":\"client \\u0031\",\"timestamp\":1456862575765, \"extra\": {\"nested\": [1, 2]} }";
        var before = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();

        await client.SendAndWaitAckAsync(sent);

        var record = Assert.Single(TopicReader.ReadAll(gateway.Kafka.BootstrapServers, gateway.Topic, 1));
        Assert.Equal(sent, record.Text);
        Assert.Equal("client 1", record.Key);
        // The timestamp is when the gateway read the message; one header says where it came from.
        Assert.Equal(Confluent.Kafka.TimestampType.CreateTime, record.Timestamp.Type);
        Assert.InRange(record.Timestamp.UnixTimestampMs, before, DateTimeOffset.UtcNow.ToUnixTimeMilliseconds());
        var (connection, instance) = Source(record);
        Assert.Equal("gw test 1", instance);
        // No trace exporter is configured: no traceparent, nothing but ingest-source.
        Assert.Equal(IngestHeaders.Source, Assert.Single(record.Headers.Keys));
        Assert.Empty(client.Errors);

        // A dead letter of the same connection names the same connection and gateway, in its own headers.
        await client.SendAsync("not json");
        await client.WaitForAckAsync(2);
        var deadLetter = Assert.Single(TopicReader.ReadAll(gateway.Kafka.BootstrapServers, gateway.DeadLetterTopic, 1));
        Assert.Equal(connection, deadLetter.Headers[IngestHeaders.Connection]);
        Assert.Equal("gw test 1", deadLetter.Headers[IngestHeaders.Gateway]);
        Assert.Equal(deadLetter.Timestamp.UnixTimestampMs, long.Parse(deadLetter.Headers[IngestHeaders.ReceivedAt], CultureInfo.InvariantCulture));
    }

    [Fact]
    public async Task SourceHeadersSeparate_EventsCarryTheThreeHeaders_AndTheirTimestampIsTheReceiveTime()
    {
        await using var gateway = await TestGateway.StartAsync(new Dictionary<string, string?> { ["Ingest:Kafka:SourceHeaders"] = "Separate", ["Ingest:InstanceId"] = "gw-sep" });
        await using var first = await TestClient.ConnectAsync(gateway.WebSocketUri);
        await using var second = await TestClient.ConnectAsync(gateway.WebSocketUri);
        var before = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();

        await first.SendAndWaitAckAsync("{\"msg\":\"a\",\"clientId\":\"c1\",\"timestamp\":1}");
        await second.SendAndWaitAckAsync("{\"msg\":\"b\",\"clientId\":\"c2\",\"timestamp\":2}");

        var records = TopicReader.ReadAll(gateway.Kafka.BootstrapServers, gateway.Topic, 2);
        Assert.Equal(2, records.Count);
        Assert.All(records, record =>
        {
            Assert.Equal(
                new[] { IngestHeaders.ReceivedAt, IngestHeaders.Connection, IngestHeaders.Gateway }.Order(StringComparer.Ordinal),
                record.Headers.Keys.Order(StringComparer.Ordinal));
            Assert.Equal(record.Timestamp.UnixTimestampMs, long.Parse(record.Headers[IngestHeaders.ReceivedAt], CultureInfo.InvariantCulture));
            Assert.InRange(record.Timestamp.UnixTimestampMs, before, DateTimeOffset.UtcNow.ToUnixTimeMilliseconds());
            Assert.Equal("gw-sep", record.Headers[IngestHeaders.Gateway]);
        });
        // Two connections, two ids.
        Assert.Equal(2, records.Select(r => r.Headers[IngestHeaders.Connection]).Distinct().Count());
    }

    /// <summary>An event's <c>ingest-source</c>, split at its first space: the connection id (never empty, no space) and the instance id.</summary>
    private static (string Connection, string Instance) Source(KafkaRecord record)
    {
        var source = record.Headers[IngestHeaders.Source];
        var space = source.IndexOf(' ', StringComparison.Ordinal);
        Assert.True(space > 0, $"ingest-source '{source}' has no connection id");
        return (source[..space], source[(space + 1)..]);
    }

    [Fact]
    public async Task SourceHeadersNone_EventsLandWithoutHeaders_DeadLettersKeepTheirs()
    {
        await using var gateway = await TestGateway.StartAsync(new Dictionary<string, string?> { ["Ingest:Kafka:SourceHeaders"] = "None" });
        await using var client = await TestClient.ConnectAsync(gateway.WebSocketUri);
        const string sent = "{\"msg\":\"no headers\",\"clientId\":\"c1\",\"timestamp\":1}";

        await client.SendAndWaitAckAsync(sent);
        await client.SendAsync("not json");
        await client.SendAndWaitAckAsync(sent);

        var records = TopicReader.ReadAll(gateway.Kafka.BootstrapServers, gateway.Topic, 2);
        Assert.Equal(2, records.Count);
        Assert.All(records, record =>
        {
            Assert.Equal(sent, record.Text);
            Assert.Equal("c1", record.Key);
            Assert.Empty(record.Headers);
        });
        var deadLetter = Assert.Single(TopicReader.ReadAll(gateway.Kafka.BootstrapServers, gateway.DeadLetterTopic, 1));
        Assert.Equal("not json", deadLetter.Text);
        Assert.Equal(ErrorCodes.InvalidJson, deadLetter.Headers[IngestHeaders.Error]);
        Assert.False(string.IsNullOrEmpty(deadLetter.Headers[IngestHeaders.ReceivedAt]));
        Assert.False(string.IsNullOrEmpty(deadLetter.Headers[IngestHeaders.Connection]));
        Assert.False(string.IsNullOrEmpty(deadLetter.Headers[IngestHeaders.Gateway]));
    }

    [Fact]
    public async Task Batch_EachElementIsItsOwnRecord_WithItsOwnBytes()
    {
        await using var gateway = await TestGateway.StartAsync();
        await using var client = await TestClient.ConnectAsync(gateway.WebSocketUri);
        var events = Enumerable.Range(0, 10).Select(i => $"{{\"msg\":\"m{i}\",\"clientId\":\"c{i % 3}\",\"timestamp\":{i}}}").ToArray();

        await client.SendAndWaitAckAsync("[" + string.Join(" ,\n ", events) + "]");

        var records = TopicReader.ReadAll(gateway.Kafka.BootstrapServers, gateway.Topic, events.Length);
        Assert.Equal(events.Order(), records.Select(r => r.Text).Order());
        Assert.All(records, r => Assert.Equal(r.Key, $"c{int.Parse(r.Text.Split('"')[3][1..], CultureInfo.InvariantCulture) % 3}"));
    }

    [Fact]
    public async Task MaximumBatch_OfThousandEvents_IsAccepted()
    {
        await using var gateway = await TestGateway.StartAsync();
        await using var client = await TestClient.ConnectAsync(gateway.WebSocketUri);
        var batch = "[" + string.Join(',', Enumerable.Range(0, 1000).Select(i => $"{{\"msg\":\"m{i}\",\"clientId\":\"c\",\"timestamp\":{i}}}")) + "]";

        await client.SendAndWaitAckAsync(batch);

        Assert.Equal(1000, TopicReader.ReadAll(gateway.Kafka.BootstrapServers, gateway.Topic, 1000).Count);
    }

    [Fact]
    public async Task FiftyConnections_ThousandEventsEach_LandExactlyOnce_InOrderPerClient_AllAcked()
    {
        const int connections = 50, eventsPerConnection = 1000;
        await using var gateway = await TestGateway.StartAsync();
        var sentValues = new List<string>[connections];

        await Parallel.ForEachAsync(Enumerable.Range(0, connections), new ParallelOptions { MaxDegreeOfParallelism = connections }, async (c, _) =>
        {
            await using var client = await TestClient.ConnectAsync(gateway.WebSocketUri);
            var values = sentValues[c] = [];
            var random = new Random(c);
            var n = 0;
            while (n < eventsPerConnection)
            {
                // Mix single events and batches of 2-20; two clientIds per connection.
                var size = random.Next(3) == 0 ? 1 : Math.Min(random.Next(2, 21), eventsPerConnection - n);
                var batch = Enumerable.Range(n, size).Select(i => $"{{\"msg\":\"conn {c} event {i}\",\"clientId\":\"conn{c}-{i % 2}\",\"timestamp\":{i}}}").ToArray();
                values.AddRange(batch);
                await client.SendAsync(size == 1 && random.Next(2) == 0 ? batch[0] : "[" + string.Join(',', batch) + "]");
                n += size;
            }

            await client.WaitForAckAsync(client.Sent);
            Assert.Empty(client.Errors);
        });

        var records = TopicReader.ReadAll(gateway.Kafka.BootstrapServers, gateway.Topic, connections * eventsPerConnection);
        var expected = sentValues.SelectMany(v => v).ToList();
        Assert.Equal(expected.Count, records.Count);
        Assert.Equal(expected.Order(StringComparer.Ordinal), records.Select(r => r.Text).Order(StringComparer.Ordinal));

        // Per clientId: one partition, and offsets follow the order sent.
        foreach (var group in records.GroupBy(r => r.Key))
        {
            Assert.Single(group.Select(r => r.Partition).Distinct());
            var timestamps = group.OrderBy(r => r.Offset).Select(r => int.Parse(r.Text.Split("\"timestamp\":")[1].TrimEnd('}'), CultureInfo.InvariantCulture)).ToArray();
            Assert.Equal(timestamps.Order(), timestamps);
        }
    }

    [Theory]
    [InlineData(1)]
    [InlineData(4096)]
    public async Task FragmentedMessage_OfTwoHundredKilobytes_IsReassembled(int fragmentSize)
    {
        await using var gateway = await TestGateway.StartAsync();
        await using var client = await TestClient.ConnectAsync(gateway.WebSocketUri);
        var sent = $"{{\"msg\":\"{new string('x', 200 * 1024)}\",\"clientId\":\"fragments\",\"timestamp\":1}}";

        await client.SendAsync(sent, fragmentSize);
        await client.WaitForAckAsync(1, TimeSpan.FromSeconds(120));

        var record = Assert.Single(TopicReader.ReadAll(gateway.Kafka.BootstrapServers, gateway.Topic, 1));
        Assert.Equal(sent, record.Text);
    }

    [Fact]
    public async Task MessageOfExactlyTheSizeLimit_IsAcceptedAndLands()
    {
        const int limit = 1_048_576;
        await using var gateway = await TestGateway.StartAsync();
        await using var client = await TestClient.ConnectAsync(gateway.WebSocketUri);
        const string prefix = "{\"clientId\":\"big\",\"timestamp\":1,\"msg\":\"";
        var sent = prefix + new string('y', limit - prefix.Length - 2) + "\"}";
        Assert.Equal(limit, Encoding.UTF8.GetByteCount(sent));

        await client.SendAsync(sent, fragmentSize: 64 * 1024);
        await client.WaitForAckAsync(1);

        var record = Assert.Single(TopicReader.ReadAll(gateway.Kafka.BootstrapServers, gateway.Topic, 1));
        Assert.Equal(limit, record.Value.Length);
        Assert.Empty(client.Errors);
    }

    [Fact]
    public async Task ClientClose_GetsFinalAck_ThenCloseHandshake()
    {
        await using var gateway = await TestGateway.StartAsync();
        await using var client = await TestClient.ConnectAsync(gateway.WebSocketUri);
        for (var i = 0; i < 100; i++)
        {
            await client.SendAsync($"{{\"msg\":\"m\",\"clientId\":\"closer\",\"timestamp\":{i}}}");
        }

        await client.CloseAsync();

        Assert.Equal(100, client.AckedUpTo);
        Assert.Equal(System.Net.WebSockets.WebSocketCloseStatus.NormalClosure, client.CloseStatus);
        Assert.Equal(100, TopicReader.ReadAll(gateway.Kafka.BootstrapServers, gateway.Topic, 100).Count);
    }
}
