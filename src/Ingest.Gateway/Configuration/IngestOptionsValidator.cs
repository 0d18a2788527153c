using Microsoft.Extensions.Options;

namespace Ingest.Gateway.Configuration;

/// <summary>Source-generated validation of the data annotations on <see cref="IngestOptions"/>.</summary>
[OptionsValidator]
internal sealed partial class IngestOptionsValidator : IValidateOptions<IngestOptions>;

/// <summary>Rules that span several settings.</summary>
internal sealed class IngestOptionsCrossValidator : IValidateOptions<IngestOptions>
{
    public ValidateOptionsResult Validate(string? name, IngestOptions options)
    {
        var failures = new List<string>();
        if (options.Kafka.DeadLetterTopic is { Length: > 0 } dlq && dlq == options.Kafka.Topic)
        {
            failures.Add("Ingest:Kafka:DeadLetterTopic must differ from Ingest:Kafka:Topic");
        }

        var kafka = options.Kafka;
        foreach (var key in KafkaClientProperties.Guaranteed)
        {
            if (kafka.Producer.ContainsKey(key) || kafka.Client.ContainsKey(key))
            {
                failures.Add($"Ingest:Kafka:{(kafka.Client.ContainsKey(key) ? "Client" : "Producer")}:{key} cannot be set: the gateway always uses enable.idempotence=true, acks=all");
            }
        }

        foreach (var key in KafkaClientProperties.Transactional)
        {
            if (kafka.Producer.ContainsKey(key) || kafka.Client.ContainsKey(key))
            {
                failures.Add($"Ingest:Kafka:{(kafka.Client.ContainsKey(key) ? "Client" : "Producer")}:{key} cannot be set: the gateway sets it from Ingest:Kafka:Delivery=Transactional and Ingest:Kafka:TransactionalId (the transaction timeout is Ingest:Kafka:DeliveryTimeoutMs)");
            }
        }

        foreach (var key in KafkaClientProperties.FixedForStream.Where(kafka.Consumer.ContainsKey))
        {
            failures.Add($"Ingest:Kafka:Consumer:{key} cannot be set: the /stream consumer assigns partitions from their end and never commits");
        }

        foreach (var section in new[] { ("Client", kafka.Client), ("Producer", kafka.Producer), ("Consumer", kafka.Consumer) })
        {
            if (section.Item2.ContainsKey("bootstrap.servers"))
            {
                failures.Add($"Ingest:Kafka:{section.Item1}:bootstrap.servers cannot be set: the brokers are Ingest:Kafka:BootstrapServers");
            }
        }

        foreach (var (key, bytes) in new[] { ("MaxReassemblyBytes", options.Memory.MaxReassemblyBytes), ("MaxQueuedBytes", options.Memory.MaxQueuedBytes) })
        {
            if (bytes < 2L * options.WebSocket.MaxMessageBytes)
            {
                failures.Add($"Ingest:Memory:{key} must be at least twice Ingest:WebSocket:MaxMessageBytes ({2L * options.WebSocket.MaxMessageBytes}), so that a largest message always fits");
            }
        }

        if (options.WebSocket.MaxConnections is { } webSockets && options.Limits.MaxConnections is { } tcp && webSockets > tcp)
        {
            failures.Add($"Ingest:WebSocket:MaxConnections ({webSockets}) cannot exceed Ingest:Limits:MaxConnections ({tcp}): every WebSocket is a TCP connection");
        }

        foreach (var proxy in options.Limits.TrustedProxies.Where(p => !NetworkRange.TryParse(p, out _)))
        {
            failures.Add($"Ingest:Limits:TrustedProxies entry '{proxy}' must be an IP address or a CIDR range such as 10.0.0.0/8");
        }

        if (options.Auth.ApiKeys.Any(string.IsNullOrWhiteSpace))
        {
            failures.Add("Ingest:Auth:ApiKeys must not contain empty keys");
        }

        foreach (var origin in options.AllowedOrigins)
        {
            if (!Uri.TryCreate(origin, UriKind.Absolute, out var uri) || uri.GetLeftPart(UriPartial.Authority) != origin.TrimEnd('/'))
            {
                failures.Add($"Ingest:AllowedOrigins entry '{origin}' must be an origin such as https://app.example.com (scheme, host, optional port)");
            }
        }

        if (options.Kafka.Embedded.Brokers < 1 || options.Kafka.Embedded.Partitions < 1)
        {
            failures.Add("Ingest:Kafka:Embedded:Brokers and Partitions must be at least 1");
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
