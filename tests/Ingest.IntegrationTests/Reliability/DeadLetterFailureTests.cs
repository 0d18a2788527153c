using Confluent.Kafka;
using Ingest.Contracts;
using Ingest.IntegrationTests.Hosting;
using Ingest.Testing;
using Serilog.Events;

namespace Ingest.IntegrationTests.Reliability;

/// <summary>
/// A dead-letter topic that fails (docs/protocol.md, "Dead letters"): a rejected message is answered
/// and acked by its error frame, the valid messages after it are acked as soon as Kafka has them
/// (not after the delivery timeout), and the record that was never written shows in the metric,
/// in <c>/stats</c> and in a warning.
/// </summary>
public sealed class DeadLetterFailureTests
{
    private const string Valid = "{\"msg\":\"ok\",\"clientId\":\"c\",\"timestamp\":1}";

    [Fact]
    public async Task DeadLetterTopicFailing_AcksOfLaterValidMessagesAreNotHeld_TheLostRecordIsCountedAndLogged()
    {
        const int deliveryTimeoutMs = 8_000;
        var capture = LogCapture.New();
        var settings = capture.Settings();
        settings["Ingest:Kafka:DeliveryTimeoutMs"] = $"{deliveryTimeoutMs}";
        settings["Serilog:MinimumLevel:Override:Ingest.Gateway.Kafka.KafkaBatchProducer"] = "Warning"; // TestGateway keeps it at Error
        await using var gateway = await TestGateway.StartAsync(settings);
        gateway.Kafka.SetTopicError(gateway.DeadLetterTopic, ErrorCode.UnknownTopicOrPart); // as if it had been deleted

        await using var client = await TestClient.ConnectAsync(gateway.WebSocketUri);
        await client.SendAsync("not json");
        for (var i = 0; i < 3; i++)
        {
            await client.SendAsync(Valid);
        }

        // Acked well inside the delivery timeout: the failing dead letter holds nothing back.
        await client.WaitForAckAsync(4, TimeSpan.FromMilliseconds(deliveryTimeoutMs / 2));
        Assert.Equal((1L, ErrorCodes.InvalidJson), (client.Errors.Single().Seq, client.Errors.Single().Code));
        var whenAcked = await StatsAsync(gateway);
        Assert.Equal((0L, 0L), (whenAcked.DeadLetters, whenAcked.DeadLettersFailed)); // still in flight
        Assert.Equal(3, TopicReader.ReadAll(gateway.Kafka.BootstrapServers, gateway.Topic, 3).Count);

        // Past the delivery timeout the record is given up: counted, and one warning says so.
        await Poll.UntilAsync(() => gateway.Metrics.Snapshot(0, 0).DeadLettersFailed == 1, "the dead letter counted as failed");
        Assert.Equal(1L, (await StatsAsync(gateway)).DeadLettersFailed);
        await Poll.UntilAsync(
            () => capture.Events.Any(IsDeadLettersFailing),
            "the warning",
            state: () => $"{capture.Events.Count} events captured; events: {string.Join(" | ", capture.Events.Select(e => e.RenderMessage(System.Globalization.CultureInfo.InvariantCulture)))}");
        var warning = capture.Events.Single(IsDeadLettersFailing);
        Assert.Equal(LogEventLevel.Warning, warning.Level);
        Assert.Equal("1", warning.Properties["Count"].ToString());
        Assert.Equal(0L, (await StatsAsync(gateway)).DeadLetters);
        Assert.False(client.IsClosed);
    }

    private static bool IsDeadLettersFailing(LogEvent e) =>
        e.Properties.TryGetValue("EventId", out var id) && id is StructureValue s && s.Properties.Any(p => p.Name == "Id" && p.Value.ToString() == "213");

    private static async Task<GatewayStats> StatsAsync(TestGateway gateway) =>
        GatewayStats.Parse(await gateway.Http.GetStringAsync(new Uri("/stats", UriKind.Relative), TestContext.Current.CancellationToken));
}
