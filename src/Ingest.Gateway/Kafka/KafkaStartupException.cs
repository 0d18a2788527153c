namespace Ingest.Gateway.Kafka;

/// <summary>
/// Kafka refused what the gateway needs before it can serve (the transactional mode's
/// <c>InitTransactions</c>): the process exits with <see cref="Lifecycle.StartupErrors.KafkaExitCode"/>
/// and this message, not a stack trace.
/// </summary>
internal sealed class KafkaStartupException(string message, Exception inner) : Exception(message, inner);
