using System.Diagnostics;
using System.Net;
using Ingest.Gateway.Streaming;
using Ingest.Kafka.Embedded;
using Ingest.Testing;
using Microsoft.Extensions.Hosting;

namespace Ingest.IntegrationTests.Streaming;

/// <summary>The <c>/stream</c> endpoint's HTTP contract: headers, heartbeats, access rules, limits, life cycle.</summary>
public sealed class StreamEndpointTests
{
    private static readonly Dictionary<string, string?> WithKeys = new()
    {
        ["Ingest:Auth:ApiKeys:0"] = "key-one",
        ["Ingest:Auth:ApiKeys:1"] = "key-two",
    };

    [Fact]
    public async Task Stream_StartsWithRetryAndReady_WithEventStreamHeaders_ThenHeartbeats()
    {
        await using var gateway = await TestGateway.StartAsync(new Dictionary<string, string?> { ["Ingest:Stream:HeartbeatMs"] = "200" });
        await using var subscriber = await SseClient.ConnectAsync(gateway.HttpUri);

        var ready = await subscriber.WaitForReadyAsync();
        await subscriber.WaitUntilAsync(() => subscriber.Heartbeats >= 3, "three heartbeats", TimeSpan.FromSeconds(10));

        Assert.Equal(HttpStatusCode.OK, subscriber.Response.StatusCode);
        Assert.Equal("text/event-stream", subscriber.Response.Content.Headers.ContentType?.MediaType);
        Assert.True(subscriber.Response.Headers.CacheControl?.NoCache);
        Assert.Equal("no", Assert.Single(subscriber.Response.Headers.GetValues("X-Accel-Buffering")));
        Assert.Equal(2000, subscriber.RetryMs);
        Assert.Equal("ready", subscriber.Events[0].Type);
        Assert.Equal("{\"clientId\":null}", ready.Data);
    }

    [Fact]
    public async Task Disconnects_ReleaseEverySubscription()
    {
        await using var gateway = await TestGateway.StartAsync();
        var hub = gateway.GetService<StreamHub>();
        var subscribers = new List<SseClient>();
        for (var i = 0; i < 3; i++)
        {
            var subscriber = await SseClient.ConnectAsync(gateway.HttpUri, i == 0 ? "/stream" : $"/stream?clientId=c{i}");
            await subscriber.WaitForReadyAsync();
            subscribers.Add(subscriber);
        }

        Assert.Equal(3, hub.Count);
        Assert.Equal(3, gateway.Metrics.Snapshot(0, 0).StreamSubscribers);

        foreach (var subscriber in subscribers)
        {
            await subscriber.DisposeAsync();
        }

        await Poll.UntilAsync(() => hub.Count == 0 && gateway.Metrics.Snapshot(0, 0).StreamSubscribers == 0, "every subscription to be released");
        // Nobody subscribes: the consumer lets go of the topic; the next subscriber gets it back.
        await Poll.UntilAsync(() => !hub.IsLive, "the consumer to go idle");
        await using var again = await SseClient.ConnectAsync(gateway.HttpUri);
        await again.WaitForReadyAsync();
        await using var ws = await TestClient.ConnectAsync(gateway.WebSocketUri);
        await ws.SendAndWaitAckAsync("{\"msg\":\"m\",\"clientId\":\"c\",\"timestamp\":1}");
        await again.WaitUntilAsync(() => again.TelemetryCount == 1, "the event after going idle and back");
    }

    [Fact]
    public async Task AuthOn_MissingOrWrongKey_Is401_KeyInQueryOrBearerHeader_Streams()
    {
        await using var gateway = await TestGateway.StartAsync(WithKeys);

        Assert.Equal(HttpStatusCode.Unauthorized, await StatusAsync(gateway, "/stream"));
        Assert.Equal(HttpStatusCode.Unauthorized, await StatusAsync(gateway, "/stream?access_token=wrong"));
        Assert.Equal(HttpStatusCode.Unauthorized, await StatusAsync(gateway, "/stream", r => r.Headers.Authorization = new("Bearer", "wrong")));
        await using var query = await SseClient.ConnectAsync(gateway.HttpUri, "/stream?access_token=key-one&clientId=c");
        Assert.Equal("{\"clientId\":\"c\"}", (await query.WaitForReadyAsync()).Data);
        await using var header = await SseClient.ConnectAsync(gateway.HttpUri, "/stream", r => r.Headers.Authorization = new("Bearer", "key-two"));
        await header.WaitForReadyAsync();
        Assert.Equal(HttpStatusCode.OK, query.Response.StatusCode);
        Assert.Equal(HttpStatusCode.OK, header.Response.StatusCode);
    }

    [Fact]
    public async Task OriginNotAllowed_Is403_AllowedOrAbsentOrigin_Streams()
    {
        await using var gateway = await TestGateway.StartAsync(new Dictionary<string, string?> { ["Ingest:AllowedOrigins:0"] = "https://app.example.com" });

        Assert.Equal(HttpStatusCode.Forbidden, await StatusAsync(gateway, "/stream", r => r.Headers.Add("Origin", "https://evil.example.com")));
        await using var allowed = await SseClient.ConnectAsync(gateway.HttpUri, "/stream", r => r.Headers.Add("Origin", "https://app.example.com"));
        await allowed.WaitForReadyAsync();
        await using var absent = await SseClient.ConnectAsync(gateway.HttpUri);
        await absent.WaitForReadyAsync();
    }

    [Fact]
    public async Task OverTheSubscriberLimit_Is503_AndAFreedSlotIsReused()
    {
        await using var gateway = await TestGateway.StartAsync(new Dictionary<string, string?> { ["Ingest:Stream:MaxSubscribers"] = "2" });
        await using var first = await SseClient.ConnectAsync(gateway.HttpUri);
        var second = await SseClient.ConnectAsync(gateway.HttpUri);
        await first.WaitForReadyAsync();
        await second.WaitForReadyAsync();

        using var refused = await gateway.Http.GetAsync(new Uri("/stream", UriKind.Relative), TestContext.Current.CancellationToken);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, refused.StatusCode);
        Assert.NotNull(refused.Headers.RetryAfter);
        Assert.Contains("too_many_subscribers", await refused.Content.ReadAsStringAsync(TestContext.Current.CancellationToken), StringComparison.Ordinal);

        await second.DisposeAsync();
        await Poll.UntilAsync(() => gateway.GetService<StreamHub>().Count == 1, "the second subscription to be released");
        await using var third = await SseClient.ConnectAsync(gateway.HttpUri);
        await third.WaitForReadyAsync();
    }

    [Fact]
    public async Task RepeatedClientIdFilter_Is400()
    {
        await using var gateway = await TestGateway.StartAsync();

        Assert.Equal(HttpStatusCode.BadRequest, await StatusAsync(gateway, "/stream?clientId=a&clientId=b"));
    }

    [Fact]
    public async Task StreamDisabled_Is404_AndNoConsumerRuns()
    {
        await using var gateway = await TestGateway.StartAsync(new Dictionary<string, string?> { ["Ingest:Stream:Enabled"] = "false" });

        Assert.Equal(HttpStatusCode.NotFound, await StatusAsync(gateway, "/stream"));
        var consumer = Assert.Single(gateway.GetService<IEnumerable<IHostedService>>().OfType<StreamConsumer>());
        Assert.True(consumer.ExecuteTask?.IsCompleted, "the stream consumer's loop should not run");
        Assert.Equal(0, gateway.GetService<StreamHub>().Count);
    }

    [Fact]
    public async Task Shutdown_EndsEveryStream_Promptly_EvenWithAStuckSubscriber()
    {
        var gateway = await TestGateway.StartAsync();
        try
        {
            await using var subscriber = await SseClient.ConnectAsync(gateway.HttpUri);
            await subscriber.WaitForReadyAsync();
            using var stuck = await StuckSubscriber.ConnectAsync(gateway.HttpUri);
            await Poll.UntilAsync(() => gateway.GetService<StreamHub>().Count == 2, "the stuck subscriber");
            // Fill the stuck subscriber's socket, so that its writes wait.
            await using (var ws = await TestClient.ConnectAsync(gateway.WebSocketUri))
            {
                var padding = new string('p', 1000);
                for (var n = 0; n < 2_000; n += 50)
                {
                    await ws.SendAsync("[" + string.Join(',', Enumerable.Range(n, 50).Select(i => $"{{\"msg\":\"{i}\",\"clientId\":\"c\",\"timestamp\":{i},\"pad\":\"{padding}\"}}")) + "]");
                }

                await ws.WaitForAckAsync(ws.Sent);
            }

            // The reading subscriber may lose a few of these 2 MB too, to its own 1024-event queue.
            await subscriber.WaitUntilAsync(() => subscriber.TelemetryCount + subscriber.DroppedTotal == 2_000, "the events");
            var clock = Stopwatch.StartNew();
            await gateway.StopAsync();
            var stopped = clock.Elapsed;
            await subscriber.WaitUntilAsync(() => subscriber.Ended, "the end of the stream", TimeSpan.FromSeconds(10));

            TestContext.Current.TestOutputHelper?.WriteLine($"gateway stopped in {stopped.TotalMilliseconds:F0} ms");
            Assert.True(stopped < TimeSpan.FromSeconds(5), $"stopping took {stopped}");
            Assert.Null(subscriber.Failure);
        }
        finally
        {
            await gateway.DisposeAsync();
        }
    }

    [Fact]
    public async Task StuckSubscriber_IsDroppedAfterTheStallTimeout_ItsSlotReleased_WhileOthersStream()
    {
        // Queues of 16 MiB, so that the stuck client's writer has all 10 MB to write (with the
        // default 256 KB, what it is offered can fit its socket buffers, and no write ever waits).
        await using var gateway = await TestGateway.StartAsync(new Dictionary<string, string?>
        {
            ["Ingest:Stream:StallTimeoutMs"] = "1000",
            ["Ingest:Stream:QueueBytes"] = "16777216",
            ["Ingest:Stream:QueueCapacity"] = "20000",
        });
        var hub = gateway.GetService<StreamHub>();
        await using var reader = await SseClient.ConnectAsync(gateway.HttpUri);
        await reader.WaitForReadyAsync();
        using var stuck = await StuckSubscriber.ConnectAsync(gateway.HttpUri);
        await Poll.UntilAsync(() => hub.Count == 2, "the stuck subscriber");

        // 10 MB of events: more than the stuck client's socket buffers take (loopback's send buffer
        // grows to a few MB), so a write to it waits.
        await using (var ws = await TestClient.ConnectAsync(gateway.WebSocketUri))
        {
            var padding = new string('p', 1000);
            for (var n = 0; n < 10_000; n += 50)
            {
                await ws.SendAsync("[" + string.Join(',', Enumerable.Range(n, 50).Select(i => $"{{\"msg\":\"{i}\",\"clientId\":\"c\",\"timestamp\":{i},\"pad\":\"{padding}\"}}")) + "]");
            }

            await ws.WaitForAckAsync(ws.Sent);
        }

        await Poll.UntilAsync(() => hub.Count == 1 && gateway.Metrics.Snapshot(0, 0).StreamSubscribers == 1, "the stuck subscriber to be dropped");
        Assert.True(await stuck.WaitForEndAsync(TimeSpan.FromSeconds(30)), "the gateway kept the stuck client's connection open");

        // The reading subscriber is still served.
        await reader.WaitUntilAsync(() => reader.TelemetryCount + reader.DroppedTotal == 10_000, "the 10,000 events");
        await using var after = await TestClient.ConnectAsync(gateway.WebSocketUri);
        await after.SendAndWaitAckAsync("{\"msg\":\"after\",\"clientId\":\"c\",\"timestamp\":1}");
        await reader.WaitUntilAsync(() => reader.Telemetry.Any(e => e.Data.Contains("\"msg\":\"after\"", StringComparison.Ordinal)), "the event sent after the stuck subscriber was dropped");
        Assert.False(reader.Ended);
    }

    [Fact]
    public async Task KafkaDownAtStart_StreamStillAnswersReady_AndEventsFlowOnceKafkaIsBack()
    {
        using var cluster = EmbeddedKafkaCluster.Start(brokerCount: 1);
        cluster.SetBrokerDown(1);
        await using var gateway = await TestGateway.StartAsync(cluster: cluster);
        var hub = gateway.GetService<StreamHub>();

        await using var subscriber = await SseClient.ConnectAsync(gateway.HttpUri);
        await subscriber.WaitForReadyAsync();
        Assert.False(hub.IsLive);

        cluster.SetBrokerUp(1);
        await Poll.UntilAsync(() => hub.IsLive, "the stream consumer to reach Kafka");
        await using var ws = await TestClient.ConnectAsync(gateway.WebSocketUri);
        const string sent = "{\"msg\":\"back\",\"clientId\":\"c\",\"timestamp\":1}";
        await ws.SendAndWaitAckAsync(sent);
        await subscriber.WaitUntilAsync(() => subscriber.TelemetryCount == 1, "the event after Kafka came back");

        Assert.Equal(sent, Assert.Single(subscriber.Telemetry).RawEvent);
    }

    private static async Task<HttpStatusCode> StatusAsync(TestGateway gateway, string pathAndQuery, Action<HttpRequestMessage>? configure = null)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, pathAndQuery);
        configure?.Invoke(request);
        using var response = await gateway.Http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, TestContext.Current.CancellationToken);
        return response.StatusCode;
    }
}
