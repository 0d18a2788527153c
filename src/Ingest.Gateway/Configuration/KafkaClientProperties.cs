namespace Ingest.Gateway.Configuration;

/// <summary>Which librdkafka properties belong to which section of <c>Ingest:Kafka</c>.</summary>
internal static class KafkaClientProperties
{
    /// <summary>Producer properties the wire contract fixes; <c>request.required.acks</c> is librdkafka's name for <c>acks</c>.</summary>
    public static readonly string[] Guaranteed = ["enable.idempotence", "acks", "request.required.acks"];

    /// <summary>
    /// Producer properties of the transactional mode, set by the gateway from
    /// <c>Ingest:Kafka:Delivery</c> and <c>TransactionalId</c>: a <c>transactional.id</c> set by
    /// hand would make the idempotent mode's producer transactional with nobody committing.
    /// </summary>
    public static readonly string[] Transactional = ["transactional.id", "transaction.timeout.ms"];

    /// <summary>Consumer properties the <c>/stream</c> consumer fixes: it assigns partitions and never commits.</summary>
    public static readonly string[] FixedForStream = ["group.id", "enable.auto.commit", "enable.auto.offset.store", "auto.offset.reset"];

    private static readonly string[] ConnectionPrefixes = ["security.", "sasl.", "ssl.", "ssl_", "client.dns.", "socket.", "broker.address.", "enable.ssl."];

    /// <summary>
    /// True for properties that say how to reach and trust the cluster, which every client needs
    /// alike, and which belong in <c>Ingest:Kafka:Client</c>.
    /// </summary>
    public static bool IsConnectionProperty(string key) =>
        ConnectionPrefixes.Any(prefix => key.StartsWith(prefix, StringComparison.Ordinal));

    /// <summary>librdkafka names the secret properties so; their values never appear in logs.</summary>
    public static bool IsSecret(string key) =>
        key.EndsWith(".password", StringComparison.Ordinal) || key.EndsWith("secret", StringComparison.Ordinal)
        || key.Contains("sasl.oauthbearer.config", StringComparison.Ordinal) || key.EndsWith(".key.pem", StringComparison.Ordinal);
}
