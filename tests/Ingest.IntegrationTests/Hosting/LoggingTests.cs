using System.Net;
using System.Net.WebSockets;
using System.Text;
using Ingest.Testing;
using Microsoft.Extensions.Logging;
using Serilog.Events;

namespace Ingest.IntegrationTests.Hosting;

/// <summary>
/// What the gateway logs about connections and requests (docs/operations.md, "Logging"), read
/// from a sink added under <c>Serilog:WriteTo</c>: one line when a connection opens (Debug) and one
/// when it closes (Information) with its counts, duration and close codes, nothing per event, and
/// one line per HTTP request but none for a WebSocket upgrade.
/// </summary>
public sealed class LoggingTests
{
    private const int ConnectionOpened = 100;
    private const int ConnectionClosed = 101;
    private const string RequestLogging = "Serilog.AspNetCore.RequestLoggingMiddleware";

    [Fact]
    public async Task Connection_LogsOneLineAtOpenAndOneAtClose_WithItsCounts_AndNothingPerEvent()
    {
        var capture = LogCapture.New();
        await using var gateway = await TestGateway.StartAsync(Settings(capture));
        const int Messages = 60;

        await using (var client = await TestClient.ConnectAsync(gateway.WebSocketUri))
        {
            for (var i = 0; i < Messages - 2; i++)
            {
                await client.SendAsync(Event(i));
            }

            await client.SendAsync($"[{Event(100)},{Event(101)},{Event(102)}]");
            await client.SendAsync("not json");
            await client.WaitForAckAsync(Messages);
            await client.CloseAsync();
        }

        var closed = await WaitForAsync(capture, e => EventId(e) == ConnectionClosed);
        var opened = Assert.Single(capture.Events, e => EventId(e) == ConnectionOpened);
        var connectionId = Assert.IsType<string>(Value(opened, "ConnectionId"));
        Assert.Equal(LogEventLevel.Debug, opened.Level);
        Assert.Equal("127.0.0.1", Value(opened, "RemoteAddress")?.ToString());

        Assert.Equal(LogEventLevel.Information, closed.Level);
        Assert.Equal(connectionId, Value(closed, "ConnectionId"));
        Assert.Equal("127.0.0.1", Value(closed, "RemoteAddress")?.ToString());
        Assert.Equal((long)Messages, Value(closed, "Messages"));
        Assert.Equal((long)(Messages - 2 + 3), Value(closed, "Events"));
        Assert.Equal(1000, Value(closed, "CloseStatus"));
        Assert.Equal("", Value(closed, "CloseReason"));
        Assert.Equal(1000, Value(closed, "ClientCloseStatus"));
        Assert.InRange(Assert.IsType<double>(Value(closed, "DurationMs")), 0.001, 60_000);

        // Two lines for 60 messages and 61 events, at Debug: nothing else names the connection,
        // and the gateway wrote fewer lines in all than it received messages.
        Assert.Equal(2, capture.Events.Count(e => e.Properties.Values.Any(v => v is ScalarValue { Value: string s } && s == connectionId)));
        Assert.InRange(capture.Events.Count(e => Value(e, "SourceContext") is string source && source.StartsWith("Ingest.", StringComparison.Ordinal)), 2, Messages / 2);
    }

    [Fact]
    public async Task ConnectionClosedByTheGateway_LineCarriesTheGatewaysCloseCodeAndReason()
    {
        var capture = LogCapture.New();
        var settings = Settings(capture);
        settings["Ingest:WebSocket:MaxMessageBytes"] = "1024";
        await using var gateway = await TestGateway.StartAsync(settings);

        await using (var client = await TestClient.ConnectAsync(gateway.WebSocketUri))
        {
            await client.SendAndWaitAckAsync(Event(1));
            await client.SendAsync(Encoding.UTF8.GetBytes(Event(2, new string('z', 2000))), WebSocketMessageType.Text);
            await client.WaitForCloseAsync();
            Assert.Equal(WebSocketCloseStatus.MessageTooBig, client.CloseStatus);
        }

        var closed = await WaitForAsync(capture, e => EventId(e) == ConnectionClosed);
        Assert.Equal((long)1, Value(closed, "Messages")); // read whole: the oversize one is not
        Assert.Equal((long)1, Value(closed, "Events"));
        Assert.Equal(1009, Value(closed, "CloseStatus"));
        Assert.Equal("message exceeds 1024 bytes", Value(closed, "CloseReason"));
        Assert.Equal(1000, Value(closed, "ClientCloseStatus")); // the test client answers every close with 1000
    }

    [Fact]
    public async Task HttpRequests_LogOneLineEach_WithMethodPathStatusAndElapsed_WebSocketUpgradesNone()
    {
        var capture = LogCapture.New();
        await using var gateway = await TestGateway.StartAsync(Settings(capture));

        await using (var client = await TestClient.ConnectAsync(gateway.WebSocketUri))
        {
            await client.SendAndWaitAckAsync(Event(1));
            await client.CloseAsync();
        }

        await WaitForAsync(capture, e => EventId(e) == ConnectionClosed);
        Assert.Equal(HttpStatusCode.OK, (await gateway.Http.GetAsync(new Uri("/stats?view=1", UriKind.Relative), TestContext.Current.CancellationToken)).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await gateway.Http.GetAsync(new Uri("/", UriKind.Relative), TestContext.Current.CancellationToken)).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await gateway.Http.GetAsync(new Uri("/ws", UriKind.Relative), TestContext.Current.CancellationToken)).StatusCode);

        var stats = await WaitForAsync(capture, e => Value(e, "SourceContext") as string == RequestLogging && Value(e, "RequestPath") as string == "/stats?view=1");
        Assert.Equal("GET", Value(stats, "RequestMethod"));
        Assert.Equal(200, Value(stats, "StatusCode"));
        Assert.IsType<double>(Value(stats, "Elapsed"));
        Assert.Equal(LogEventLevel.Debug, stats.Level); // a polled management endpoint
        var page = await WaitForAsync(capture, e => Value(e, "SourceContext") as string == RequestLogging && Value(e, "RequestPath") as string == "/");
        Assert.Equal(LogEventLevel.Information, page.Level);
        Assert.Equal("HTTP {RequestMethod} {RequestPath} responded {StatusCode} in {Elapsed:0.0000} ms", page.MessageTemplate.Text);
        var refused = await WaitForAsync(capture, e => Value(e, "SourceContext") as string == RequestLogging && Value(e, "RequestPath") as string == "/ws");
        Assert.Equal(400, Value(refused, "StatusCode"));

        // The upgrade that was accepted, served and closed has no request line (its connection lines stand for it).
        Assert.Single(capture.Events, e => Value(e, "SourceContext") as string == RequestLogging && Value(e, "RequestPath") as string == "/ws");
    }

    [Fact]
    public async Task LevelsComeFromTheSerilogSectionOnly_NotFromLoggingLogLevel()
    {
        var capture = LogCapture.New();
        var settings = Settings(capture);
        settings["Logging:LogLevel:Default"] = "None";
        settings["Logging:LogLevel:Ingest"] = "Critical";
        await using var gateway = await TestGateway.StartAsync(settings);
        var loggers = gateway.GetService<ILoggerFactory>();

        Assert.True(loggers.CreateLogger("Ingest.Gateway.WebSockets.WebSocketIngestEndpoint").IsEnabled(LogLevel.Debug));
        Assert.False(loggers.CreateLogger("Ingest.Gateway.Kafka.KafkaBatchProducer").IsEnabled(LogLevel.Warning));
        Assert.True(loggers.CreateLogger("Microsoft.AspNetCore.Server.Kestrel").IsEnabled(LogLevel.Warning));
        Assert.False(loggers.CreateLogger("Microsoft.AspNetCore.Server.Kestrel").IsEnabled(LogLevel.Information));
    }

    /// <summary>The capture as a second sink, the gateway's own lines at Debug, and the request lines.</summary>
    private static Dictionary<string, string?> Settings(LogCapture capture)
    {
        var settings = capture.Settings();
        settings["Serilog:MinimumLevel:Override:Ingest"] = "Debug";
        settings["Serilog:MinimumLevel:Override:Serilog.AspNetCore"] = "Debug";
        return settings;
    }

    private static string Event(int i, string msg = "m") => $"{{\"msg\":\"{msg}\",\"clientId\":\"c\",\"timestamp\":{i}}}";

    private static async Task<LogEvent> WaitForAsync(LogCapture capture, Func<LogEvent, bool> match)
    {
        await Poll.UntilAsync(() => capture.Events.Any(match), "the log line");
        return capture.Events.First(match);
    }

    private static object? Value(LogEvent logEvent, string name) =>
        logEvent.Properties.TryGetValue(name, out var value) && value is ScalarValue scalar ? scalar.Value : null;

    private static int? EventId(LogEvent logEvent) =>
        logEvent.Properties.TryGetValue("EventId", out var value) && value is StructureValue id
            ? id.Properties.Where(p => p.Name == "Id").Select(p => (p.Value as ScalarValue)?.Value as int?).FirstOrDefault()
            : null;
}
