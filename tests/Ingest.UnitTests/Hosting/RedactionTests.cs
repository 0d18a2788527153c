using System.Globalization;
using Ingest.Gateway.Hosting;
using Microsoft.Extensions.Configuration;
using Serilog.Core;
using Serilog.Events;
using Serilog.Formatting.Display;
using Serilog.Parsing;

namespace Ingest.UnitTests.Hosting;

/// <summary>
/// <see cref="LogRedactor"/> and <see cref="RedactingSink"/>: credentials masked wherever an event
/// carries them, the rest of the event as it was.
/// </summary>
public sealed class RedactionTests
{
    private const string Jwt = "eyJhbGciOiJIUzI1NiIsImtpZCI6ImsxIn0.eyJleHAiOjE3MDAwMDAwMDAsImNsaWVudElkIjoiYSJ9.c2lnbmF0dXJlLWJ5dGVz";

    [Theory]
    [InlineData("GET /ws?access_token=abc123", "GET /ws?access_token=[redacted]")]
    [InlineData("/stream?clientId=x&access_token=abc123&y=1", "/stream?clientId=x&access_token=[redacted]&y=1")]
    [InlineData("/ws?ACCESS_TOKEN=abc123 - 101", "/ws?ACCESS_TOKEN=[redacted] - 101")]
    [InlineData("Authorization: Bearer abc.def-ghi", "Authorization: Bearer [redacted]")]
    [InlineData("authorization=bearer  abc123, next", "authorization=bearer  [redacted], next")]
    [InlineData("token " + Jwt + " seen", "token [redacted] seen")]
    [InlineData("unsigned eyJhbGciOiJub25lIn0.eyJleHAiOjF9. end", "unsigned [redacted] end")]
    public void Redact_MasksPatterns(string text, string expected)
    {
        Assert.Equal(expected, new LogRedactor([]).Redact(text));
    }

    [Fact]
    public void Redact_MasksExactSecrets_LongestFirst_AndLeavesOtherTextAsTheSameInstance()
    {
        var redactor = new LogRedactor(["pass", "password-1"]);
        var clean = "nothing to see at /stats";

        Assert.Equal("sasl [redacted] and [redacted]", redactor.Redact("sasl password-1 and pass"));
        Assert.Same(clean, redactor.Redact(clean));
    }

    [Fact]
    public void SecretsIn_ReadsKeysTokenSecretsAndKafkaPasswords_NotOtherProperties()
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Ingest:Auth:ApiKeys:0"] = "api-key-0",
            ["Ingest:Auth:ApiKeys:1"] = "api-key-1",
            ["Ingest:Auth:Tokens:Keys:0:Id"] = "k1",
            ["Ingest:Auth:Tokens:Keys:0:Secret"] = "dG9rZW4tc2VjcmV0",
            ["Ingest:Kafka:Client:sasl.username"] = "user",
            ["Ingest:Kafka:Client:sasl.password"] = "client-password",
            ["Ingest:Kafka:Producer:ssl.key.password"] = "producer-password",
            ["Ingest:Kafka:Consumer:sasl.oauthbearer.client.secret"] = "consumer-secret",
            ["Ingest:Kafka:Topic"] = "events",
        }).Build();

        var secrets = LogRedactor.SecretsIn(configuration);

        Assert.Equal(
            new[] { "api-key-0", "api-key-1", "dG9rZW4tc2VjcmV0", "client-password", "producer-password", "consumer-secret" }.Order(StringComparer.Ordinal),
            secrets.Order(StringComparer.Ordinal));
    }

    [Fact]
    public void Redactor_FollowsTheLiveConfiguration()
    {
        var configuration = new ConfigurationManager();
        using var redactor = new LogRedactor(configuration);
        Assert.Equal("key-added-later", redactor.Redact("key-added-later"));

        configuration.AddInMemoryCollection(new Dictionary<string, string?> { ["Ingest:Auth:ApiKeys:0"] = "key-added-later" });

        Assert.Equal("[redacted]", redactor.Redact("key-added-later"));
    }

    [Fact]
    public void Sink_MasksTemplateProperties_NestedValues_AndObjectsRenderedAsText()
    {
        var (sink, events) = Sink("secret-key");
        var logEvent = Event(
            "Request to {Url} with {Query} from secret-key",
            exception: null,
            new LogEventProperty("Url", new ScalarValue(new Uri("http://127.0.0.1/ws?access_token=abc"))),
            new LogEventProperty("Query", new ScalarValue("?access_token=secret-key")),
            new LogEventProperty("List", new SequenceValue([new ScalarValue("secret-key"), new ScalarValue(7)])),
            new LogEventProperty("Shape", new StructureValue([new LogEventProperty("Auth", new ScalarValue("Bearer xyz"))])),
            new LogEventProperty("Map", new DictionaryValue([KeyValuePair.Create(new ScalarValue("secret-key"), (LogEventPropertyValue)new ScalarValue("x"))])),
            new LogEventProperty("Count", new ScalarValue(3)));

        sink.Emit(logEvent);

        var emitted = Assert.Single(events);
        var rendered = Render(emitted, "{Message:lj} {List} {Shape} {Map} {Count}");
        Assert.DoesNotContain("secret-key", rendered, StringComparison.Ordinal);
        Assert.DoesNotContain("abc", rendered, StringComparison.Ordinal);
        Assert.DoesNotContain("xyz", rendered, StringComparison.Ordinal);
        Assert.Contains("http://127.0.0.1/ws?access_token=[redacted]", rendered, StringComparison.Ordinal);
        Assert.Same(logEvent.Properties["Count"], emitted.Properties["Count"]);
        Assert.Equal(logEvent.Timestamp, emitted.Timestamp);
        Assert.Equal(logEvent.Level, emitted.Level);
    }

    [Fact]
    public void Sink_MasksTheExceptionText_AndKeepsItsTypeAndStackTrace()
    {
        var (sink, events) = Sink("sasl-secret");
        Exception thrown;
        try
        {
            throw new InvalidOperationException("connect failed with sasl-secret", new IOException($"token {Jwt}"));
        }
        catch (InvalidOperationException e)
        {
            thrown = e;
        }

        sink.Emit(Event("Kafka failed", thrown));

        var rendered = Render(Assert.Single(events), "{Message:lj}{NewLine}{Exception}");
        Assert.DoesNotContain("sasl-secret", rendered, StringComparison.Ordinal);
        Assert.DoesNotContain(Jwt, rendered, StringComparison.Ordinal);
        Assert.Contains("System.InvalidOperationException: connect failed with [redacted]", rendered, StringComparison.Ordinal);
        Assert.Contains("System.IO.IOException: token [redacted]", rendered, StringComparison.Ordinal);
        Assert.Contains($"at {typeof(RedactionTests).FullName}.{nameof(Sink_MasksTheExceptionText_AndKeepsItsTypeAndStackTrace)}", rendered, StringComparison.Ordinal);
    }

    [Fact]
    public void Sink_PassesAnEventWithNothingToMask_Unchanged()
    {
        var (sink, events) = Sink("secret-key");
        var logEvent = Event("Connection {Id} opened", new InvalidOperationException("plain"), new LogEventProperty("Id", new ScalarValue("c-1")));

        sink.Emit(logEvent);

        Assert.Same(logEvent, Assert.Single(events));
    }

    private static (RedactingSink Sink, List<LogEvent> Events) Sink(params string[] secrets)
    {
        var events = new List<LogEvent>();
        return (new RedactingSink(new CollectingSink(events), new LogRedactor(secrets)), events);
    }

    private static LogEvent Event(string template, Exception? exception, params LogEventProperty[] properties) =>
        new(DateTimeOffset.UtcNow, LogEventLevel.Warning, exception, new MessageTemplateParser().Parse(template), properties);

    private static string Render(LogEvent logEvent, string template)
    {
        using var writer = new StringWriter(CultureInfo.InvariantCulture);
        new MessageTemplateTextFormatter(template, CultureInfo.InvariantCulture).Format(logEvent, writer);
        return writer.ToString();
    }

    private sealed class CollectingSink(List<LogEvent> events) : ILogEventSink
    {
        public void Emit(LogEvent logEvent) => events.Add(logEvent);
    }
}
