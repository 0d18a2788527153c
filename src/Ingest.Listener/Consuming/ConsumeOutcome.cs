using Confluent.Kafka;

namespace Ingest.Listener.Consuming;

/// <summary>How a consume loop ended.</summary>
/// <param name="Count">Events handled (printed, verified, counted).</param>
/// <param name="TimedOut">The timeout passed before the count was reached.</param>
/// <param name="Interrupted">Cancelled (Ctrl-C) before the count was reached.</param>
/// <param name="FatalError">A fatal Kafka error stopped the loop.</param>
internal sealed record ConsumeOutcome(long Count, bool TimedOut, bool Interrupted, Error? FatalError);
