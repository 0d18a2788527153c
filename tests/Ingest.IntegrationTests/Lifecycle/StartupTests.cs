using Ingest.Testing;

namespace Ingest.IntegrationTests.Lifecycle;

/// <summary>
/// A setting the gateway cannot use stops it before it serves: exit code 2 and one line naming the
/// key, recognised by the error's type whatever stage found it (binding, validation, the builder).
/// </summary>
public sealed class StartupTests
{
    public static TheoryData<string, string, string> BadSettings => new()
    {
        // Binding: the value cannot be converted.
        { "Ingest:Kafka:LingerMs", "soon", "Ingest:Kafka:LingerMs" },
        // Validation of the options.
        { "Ingest:Kafka:Topic", "not a topic!", "Ingest:Kafka:Topic" },
        { "Ingest:Kafka:Client:bootstrap.servers", "broker:9092", "Ingest:Kafka:Client:bootstrap.servers" },
        { "Ingest:Kafka:Producer:acks", "1", "Ingest:Kafka:Producer:acks" },
        // The delivery mode: an unknown mode, an id Kafka would not take, a transactional id set by hand.
        { "Ingest:Kafka:Delivery", "ExactlyOnce", "Ingest:Kafka:Delivery" },
        { "Ingest:Kafka:TransactionalId", "not an id!", "Ingest:Kafka:TransactionalId" },
        { "Ingest:Kafka:Producer:transactional.id", "mine", "Ingest:Kafka:Producer:transactional.id" },
        // Read while the host is built: the shutdown budget sets the host's timeout.
        { "Ingest:Shutdown:TimeoutMs", "later", "Ingest:Shutdown:TimeoutMs" },
        // Limits that cannot fit the process's file descriptor limit (at most 1,048,576 on Linux).
        { "Ingest:Limits:MaxConnections", "10000000", "Ingest:Limits:MaxConnections" },
        { "Ingest:Limits:ReservedDescriptors", "1000000", "Ingest:Limits:ReservedDescriptors" },
        // Telemetry: the standard OpenTelemetry variables (here as command-line keys; the environment works the same).
        { "OTEL_EXPORTER_OTLP_ENDPOINT", "not a url", "OTEL_EXPORTER_OTLP_ENDPOINT" },
        { "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "ftp://collector:4317", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT" },
        { "OTEL_EXPORTER_OTLP_PROTOCOL", "carrier-pigeon", "OTEL_EXPORTER_OTLP_PROTOCOL" },
        { "OTEL_TRACES_SAMPLER", "sometimes", "OTEL_TRACES_SAMPLER" },
        { "OTEL_METRIC_EXPORT_INTERVAL", "often", "OTEL_METRIC_EXPORT_INTERVAL" },
        { "Ingest:Kafka:StatisticsIntervalMs", "-1", "Ingest:Kafka:StatisticsIntervalMs" },
        // Credentials: a token key without its secret; management access with nothing to require; the management port.
        { "Ingest:Auth:Tokens:Keys:0:Id", "backend-1", "Ingest:Auth:Tokens:Keys:0:Secret" },
        { "Ingest:Management:RequireApiKey", "true", "Ingest:Management:RequireApiKey" },
        { "Ingest:Management:Port", "admin", "Ingest:Management:Port" },
        // TLS: a certificate file that is not there.
        { "Kestrel:Certificates:Default:Path", "/nonexistent/tls.crt", "Kestrel:Certificates:Default:Path" },
    };

    [Theory]
    [MemberData(nameof(BadSettings))]
    public async Task InvalidSetting_ExitsWithCode2_AndOneLineNamingTheKey_NoStackTrace(string key, string value, string named)
    {
        await using var gateway = GatewayProcessHost.Start(new Dictionary<string, string> { [key] = value });

        Assert.True(await gateway.WaitForExitAsync(TimeSpan.FromSeconds(60)), "the gateway kept running with an invalid setting");

        Assert.Equal(2, gateway.ExitCode);
        var line = Assert.Single(gateway.Output, l => l.StartsWith("Invalid configuration: ", StringComparison.Ordinal));
        Assert.Contains(named, line, StringComparison.Ordinal);
        Assert.DoesNotContain(gateway.Output, l => l.TrimStart().StartsWith("at ", StringComparison.Ordinal) || l.Contains("Exception", StringComparison.Ordinal));
    }
}
