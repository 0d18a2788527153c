using Ingest.Gateway.Kafka;
using Microsoft.Extensions.Options;

namespace Ingest.Gateway.Hosting;

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

        foreach (var key in KafkaBatchProducer.GuaranteedProperties)
        {
            if (options.Kafka.Producer.ContainsKey(key))
            {
                failures.Add($"Ingest:Kafka:Producer:{key} cannot be set: the gateway always uses enable.idempotence=true, acks=all");
            }
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
