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
        await using var gateway = await TestGateway.StartAsync();
        await using var client = await TestClient.ConnectAsync(gateway.WebSocketUri);
        // Unusual spacing and an escaped character: the record must keep the bytes as sent.
        const string sent = "{ \"msg\" : \"msg number 1\",\"clientId\":\"client \\u0031\",\"timestamp\":1456862575765, \"extra\": {\"nested\": [1, 2]} }";
        var before = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();

        await client.SendAndWaitAckAsync(sent);

        var record = Assert.Single(TopicReader.ReadAll(gateway.Kafka.BootstrapServers, gateway.Topic, 1));
        Assert.Equal(sent, record.Text);
        Assert.Equal("client 1", record.Key);
        var receivedAt = long.Parse(record.Headers[IngestHeaders.ReceivedAt], CultureInfo.InvariantCulture);
        Assert.InRange(receivedAt, before, DateTimeOffset.UtcNow.ToUnixTimeMilliseconds());
        Assert.False(string.IsNullOrEmpty(record.Headers[IngestHeaders.Connection]));
        Assert.False(string.IsNullOrEmpty(record.Headers[IngestHeaders.Gateway]));
        // No trace exporter is configured: no traceparent, nothing but the three headers.
        Assert.Equal(3, record.Headers.Count);
        Assert.Empty(client.Errors);
    }

    [Fact]
    public async Task SourceHeadersOff_EventsLandWithoutHeaders_DeadLettersKeepTheirs()
    {
        await using var gateway = await TestGateway.StartAsync(new Dictionary<string, string?> { ["Ingest:Kafka:SourceHeaders"] = "false" });
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
