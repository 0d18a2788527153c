using Ingest.Gateway.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace Ingest.UnitTests.Configuration;

/// <summary>"Invalid configuration stops start-up with one clear line naming the key and the problem."</summary>
public sealed class OptionsValidationTests
{
    public static TheoryData<string, string> WrongValues => new()
    {
        { "Kafka.Topic=", "Ingest:Kafka:Topic" },
        { "Kafka.Topic=has space", "Ingest:Kafka:Topic" },
        { "Kafka.Topic=a/b", "Ingest:Kafka:Topic" },
        { "Kafka.Topic=" + new string('t', 250), "Ingest:Kafka:Topic" },
        { "Kafka.DeadLetterTopic=dead letters", "Ingest:Kafka:DeadLetterTopic" },
        { "Kafka.LingerMs=-1", "Ingest:Kafka:LingerMs" },
        { "Kafka.LingerMs=900001", "Ingest:Kafka:LingerMs" },
        { "Kafka.BatchSizeBytes=0", "Ingest:Kafka:BatchSizeBytes" },
        { "Kafka.Compression=brotli", "Ingest:Kafka:Compression" },
        { "Kafka.Compression=LZ4", "Ingest:Kafka:Compression" },
        { "Kafka.DeliveryTimeoutMs=999", "Ingest:Kafka:DeliveryTimeoutMs" },
        { "Kafka.QueueBufferingMaxKbytes=0", "Ingest:Kafka:QueueBufferingMaxKbytes" },
        { "Kafka.HealthCheckIntervalMs=99", "Ingest:Kafka:HealthCheckIntervalMs" },
        { "WebSocket.MaxMessageBytes=63", "Ingest:WebSocket:MaxMessageBytes" },
        { "WebSocket.MaxMessageBytes=67108865", "Ingest:WebSocket:MaxMessageBytes" },
        { "WebSocket.MaxConnections=0", "Ingest:WebSocket:MaxConnections" },
        { "WebSocket.MessageTimeoutMs=999", "Ingest:WebSocket:MessageTimeoutMs" },
        { "WebSocket.IdleTimeoutMs=-1", "Ingest:WebSocket:IdleTimeoutMs" },
        { "WebSocket.MaxUnackedMessages=0", "Ingest:WebSocket:MaxUnackedMessages" },
        { "WebSocket.MaxOutboundBytes=4095", "Ingest:WebSocket:MaxOutboundBytes" },
        { "WebSocket.SendTimeoutMs=999", "Ingest:WebSocket:SendTimeoutMs" },
        { "Limits.MaxConnections=0", "Ingest:Limits:MaxConnections" },
        { "Limits.ReservedDescriptors=63", "Ingest:Limits:ReservedDescriptors" },
        { "Limits.HandshakeTimeoutMs=999", "Ingest:Limits:HandshakeTimeoutMs" },
        { "Limits.MaxConnectionsPerAddress=0", "Ingest:Limits:MaxConnectionsPerAddress" },
        { "Limits.EventsPerSecond=0", "Ingest:Limits:EventsPerSecond" },
        { "Limits.EventBurst=999", "Ingest:Limits:EventBurst" },
        { "Memory.MaxReassemblyBytes=1048575", "Ingest:Memory:MaxReassemblyBytes" },
        { "Memory.MaxQueuedBytes=1048575", "Ingest:Memory:MaxQueuedBytes" },
        { "Memory.TrimAfterConnections=-1", "Ingest:Memory:TrimAfterConnections" },
        { "Stream.QueueBytes=1023", "Ingest:Stream:QueueBytes" },
        { "WebSocket.KeepAliveIntervalMs=-1", "Ingest:WebSocket:KeepAliveIntervalMs" },
        { "WebSocket.KeepAliveTimeoutMs=3600001", "Ingest:WebSocket:KeepAliveTimeoutMs" },
        { "Channel.Capacity=0", "Ingest:Channel:Capacity" },
        { "Shutdown.ReconnectWindowMs=-1", "Ingest:Shutdown:ReconnectWindowMs" },
        { "Shutdown.TimeoutMs=999", "Ingest:Shutdown:TimeoutMs" },
        { "Stream.QueueCapacity=0", "Ingest:Stream:QueueCapacity" },
        { "Stream.HeartbeatMs=99", "Ingest:Stream:HeartbeatMs" },
        { "Stream.HeartbeatMs=3600001", "Ingest:Stream:HeartbeatMs" },
        { "Stream.MaxSubscribers=0", "Ingest:Stream:MaxSubscribers" },
        { "Stream.StallTimeoutMs=999", "Ingest:Stream:StallTimeoutMs" },
        { "Kafka.TransactionalId=has space", "Ingest:Kafka:TransactionalId" },
        { "Kafka.TransactionalId=" + new string('t', 250), "Ingest:Kafka:TransactionalId" },
        { "Kafka.TransactionInitTimeoutMs=999", "Ingest:Kafka:TransactionInitTimeoutMs" },
    };

    [Fact]
    public void Validate_Defaults_Succeed()
    {
        var options = new IngestOptions();

        Assert.True(new IngestOptionsValidator().Validate(null, options).Succeeded);
        Assert.True(new IngestOptionsCrossValidator().Validate(null, options).Succeeded);
    }

    [Theory]
    [MemberData(nameof(WrongValues))]
    public void Validate_WrongValue_FailsWithALineNamingTheKey(string setting, string key)
    {
        var options = With(setting);

        var result = new IngestOptionsValidator().Validate(null, options);

        Assert.True(result.Failed, $"{setting} passed validation");
        var lines = result.Failures!.Select(ConfigurationErrors.Describe).ToList();
        var line = Assert.Single(lines);
        Assert.StartsWith(key + ": ", line, StringComparison.Ordinal);
        Assert.DoesNotContain("IngestOptions", line, StringComparison.Ordinal);
        Assert.True(line.Length > key.Length + 10, $"no problem described in '{line}'");
    }

    [Theory]
    [InlineData("Kafka.LingerMs=-1", "must be between 0 and 900000")]
    [InlineData("Kafka.Compression=brotli", "must be one of none, gzip, snappy, lz4, zstd")]
    [InlineData("Kafka.Topic=", "required")]
    public void Validate_WrongValue_LineSaysTheProblem(string setting, string problem)
    {
        var result = new IngestOptionsValidator().Validate(null, With(setting));

        Assert.Contains(problem, ConfigurationErrors.Describe(Assert.Single(result.Failures!)), StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_SeveralWrongValues_OneLinePerKey()
    {
        var options = With("Kafka.LingerMs=-1");
        options.WebSocket.MaxMessageBytes = 1;
        options.Channel.Capacity = -5;

        var result = new IngestOptionsValidator().Validate(null, options);

        var keys = result.Failures!.Select(ConfigurationErrors.Describe).Select(line => line[..line.IndexOf(": ", StringComparison.Ordinal)]).Order();
        Assert.Equal(["Ingest:Channel:Capacity", "Ingest:Kafka:LingerMs", "Ingest:WebSocket:MaxMessageBytes"], keys);
    }

    [Theory]
    [InlineData("Kafka.LingerMs=0")]
    [InlineData("Kafka.LingerMs=900000")]
    [InlineData("Kafka.DeadLetterTopic=")]
    [InlineData("Kafka.Compression=none")]
    [InlineData("Kafka.Compression=zstd")]
    [InlineData("Kafka.Topic=My.topic_name-1")]
    [InlineData("WebSocket.MaxMessageBytes=64")]
    [InlineData("WebSocket.MaxMessageBytes=67108864")]
    [InlineData("WebSocket.KeepAliveIntervalMs=0")]
    [InlineData("Shutdown.ReconnectWindowMs=0")]
    [InlineData("Channel.Capacity=1")]
    [InlineData("Stream.QueueCapacity=1")]
    [InlineData("Stream.HeartbeatMs=100")]
    [InlineData("Stream.MaxSubscribers=1")]
    [InlineData("Stream.StallTimeoutMs=1000")]
    [InlineData("Kafka.TransactionalId=ingest-gateway-0.eu_1")]
    [InlineData("Kafka.TransactionInitTimeoutMs=1000")]
    public void Validate_BoundaryValue_Succeeds(string setting)
    {
        var result = new IngestOptionsValidator().Validate(null, With(setting));

        Assert.True(result.Succeeded, string.Join("; ", result.Failures ?? []));
    }

    [Fact]
    public void Validate_TopicOf249Characters_Succeeds()
    {
        Assert.True(new IngestOptionsValidator().Validate(null, With("Kafka.Topic=" + new string('t', 249))).Succeeded);
    }

    [Theory]
    [InlineData("acks", "all")]
    [InlineData("acks", "1")]
    [InlineData("acks", "0")]
    [InlineData("enable.idempotence", "false")]
    [InlineData("enable.idempotence", "true")]
    [InlineData("request.required.acks", "1")] // librdkafka's alias of acks
    public void CrossValidate_ProducerSetsAGuaranteedProperty_FailsNamingTheKey(string property, string value)
    {
        var options = new IngestOptions();
        options.Kafka.Producer[property] = value;

        var result = new IngestOptionsCrossValidator().Validate(null, options);

        Assert.True(result.Failed);
        var line = ConfigurationErrors.Describe(Assert.Single(result.Failures!));
        Assert.StartsWith($"Ingest:Kafka:Producer:{property} cannot be set", line, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("Producer", "transactional.id")]
    [InlineData("Producer", "transaction.timeout.ms")]
    [InlineData("Client", "transactional.id")]
    public void CrossValidate_TransactionalPropertySetByHand_FailsNamingTheKeyAndTheSetting(string section, string property)
    {
        var options = new IngestOptions();
        (section == "Client" ? options.Kafka.Client : options.Kafka.Producer)[property] = "x";

        var result = new IngestOptionsCrossValidator().Validate(null, options);

        Assert.True(result.Failed);
        var line = ConfigurationErrors.Describe(Assert.Single(result.Failures!));
        Assert.StartsWith($"Ingest:Kafka:{section}:{property} cannot be set", line, StringComparison.Ordinal);
        Assert.Contains("Ingest:Kafka:Delivery=Transactional", line, StringComparison.Ordinal);
    }

    [Fact]
    public void CrossValidate_ProducerSetsOtherProperties_Succeeds()
    {
        var options = new IngestOptions();
        options.Kafka.Producer["security.protocol"] = "SASL_SSL";
        options.Kafka.Producer["sasl.mechanism"] = "PLAIN";

        Assert.True(new IngestOptionsCrossValidator().Validate(null, options).Succeeded);
    }

    [Fact]
    public void CrossValidate_DeadLetterTopicSameAsTopic_FailsNamingBothKeys()
    {
        var options = new IngestOptions();
        options.Kafka.DeadLetterTopic = options.Kafka.Topic;

        var line = ConfigurationErrors.Describe(Assert.Single(new IngestOptionsCrossValidator().Validate(null, options).Failures!));

        Assert.StartsWith("Ingest:Kafka:DeadLetterTopic", line, StringComparison.Ordinal);
        Assert.Contains("Ingest:Kafka:Topic", line, StringComparison.Ordinal);
    }

    [Fact]
    public void CrossValidate_DeadLetteringOffWithEmptyTopic_Succeeds()
    {
        var options = new IngestOptions();
        options.Kafka.DeadLetterTopic = "";

        Assert.True(new IngestOptionsCrossValidator().Validate(null, options).Succeeded);
    }

    [Theory]
    [InlineData("")]
    [InlineData(" ")]
    public void CrossValidate_EmptyApiKey_FailsNamingTheKey(string key)
    {
        var options = new IngestOptions();
        options.Auth.ApiKeys = ["good-key", key];

        var line = Assert.Single(new IngestOptionsCrossValidator().Validate(null, options).Failures!);

        Assert.StartsWith("Ingest:Auth:ApiKeys", line, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("https://app.example.com")]
    [InlineData("https://app.example.com/")]
    [InlineData("http://127.0.0.1:5080")]
    public void CrossValidate_AllowedOriginIsAnOrigin_Succeeds(string origin)
    {
        var options = new IngestOptions { AllowedOrigins = [origin] };

        Assert.True(new IngestOptionsCrossValidator().Validate(null, options).Succeeded);
    }

    [Theory]
    [InlineData("app.example.com")]
    [InlineData("https://app.example.com/path")]
    [InlineData("https://app.example.com?x=1")]
    [InlineData("*")]
    [InlineData("")]
    public void CrossValidate_AllowedOriginNotAnOrigin_FailsNamingTheKeyAndTheEntry(string origin)
    {
        var options = new IngestOptions { AllowedOrigins = ["https://ok.example.com", origin] };

        var line = Assert.Single(new IngestOptionsCrossValidator().Validate(null, options).Failures!);

        Assert.StartsWith($"Ingest:AllowedOrigins entry '{origin}'", line, StringComparison.Ordinal);
    }

    [Fact]
    public void CrossValidate_EmbeddedBrokersZero_FailsNamingTheKey()
    {
        var options = new IngestOptions();
        options.Kafka.Embedded.Brokers = 0;

        var line = Assert.Single(new IngestOptionsCrossValidator().Validate(null, options).Failures!);

        Assert.StartsWith("Ingest:Kafka:Embedded:Brokers", line, StringComparison.Ordinal);
    }

    [Fact]
    public void Describe_DataAnnotationFailure_NamesTheConfigurationKey()
    {
        var line = ConfigurationErrors.Describe("LingerMs: The field IngestOptions.Kafka.LingerMs must be between 0 and 900000.");

        Assert.Equal("Ingest:Kafka:LingerMs: The field must be between 0 and 900000.", line);
    }

    [Fact]
    public void Describe_LineWithoutAMemberPath_Unchanged()
    {
        const string line = "Ingest:Auth:ApiKeys must not contain empty keys";

        Assert.Equal(line, ConfigurationErrors.Describe(line));
    }

    [Fact]
    public void ValidateOnStart_WrongValueInConfiguration_ThrowsWithFailuresThatNameTheKey()
    {
        var services = new ServiceCollection();
        services.AddOptions<IngestOptions>()
            .Configure(options => options.Kafka.LingerMs = -1)
            .Configure(options => options.Kafka.Producer["acks"] = "1");
        services.AddSingleton<IValidateOptions<IngestOptions>, IngestOptionsValidator>();
        services.AddSingleton<IValidateOptions<IngestOptions>, IngestOptionsCrossValidator>();
        using var provider = services.BuildServiceProvider();

        var error = Assert.Throws<OptionsValidationException>(() => provider.GetRequiredService<IOptions<IngestOptions>>().Value);

        var lines = error.Failures.Select(ConfigurationErrors.Describe).ToList();
        Assert.Contains(lines, line => line.StartsWith("Ingest:Kafka:LingerMs: ", StringComparison.Ordinal));
        Assert.Contains(lines, line => line.StartsWith("Ingest:Kafka:Producer:acks ", StringComparison.Ordinal));
    }

    /// <summary>Default options with one "Section.Property=value" applied.</summary>
    private static IngestOptions With(string setting)
    {
        var options = new IngestOptions();
        var (path, value) = (setting[..setting.IndexOf('=', StringComparison.Ordinal)], setting[(setting.IndexOf('=', StringComparison.Ordinal) + 1)..]);
        var (section, property) = (path[..path.IndexOf('.', StringComparison.Ordinal)], path[(path.IndexOf('.', StringComparison.Ordinal) + 1)..]);
        object target = section switch
        {
            "Kafka" => options.Kafka,
            "WebSocket" => options.WebSocket,
            "Channel" => options.Channel,
            "Shutdown" => options.Shutdown,
            "Stream" => options.Stream,
            "Limits" => options.Limits,
            "Memory" => options.Memory,
            _ => throw new ArgumentException(section, nameof(setting)),
        };
        var member = target.GetType().GetProperty(property) ?? throw new ArgumentException(property, nameof(setting));
        var type = Nullable.GetUnderlyingType(member.PropertyType) ?? member.PropertyType;
        member.SetValue(target, type == typeof(string) ? value : Convert.ChangeType(value, type, System.Globalization.CultureInfo.InvariantCulture));
        return options;
    }
}
