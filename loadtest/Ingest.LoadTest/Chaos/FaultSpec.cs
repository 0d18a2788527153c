using System.Globalization;

namespace Ingest.LoadTest.Chaos;

/// <summary>The kinds of fault the <c>chaos</c> command injects.</summary>
internal enum FaultKind
{
    /// <summary>Broker 1 down (the leader of a third of the partitions): their acks pause, the others go on.</summary>
    BrokerDown,

    /// <summary>Every broker down: Kafka unreachable.</summary>
    KafkaDown,

    /// <summary>Every broker down for longer than the gateway's delivery timeout.</summary>
    PastTimeout,

    /// <summary>Every partition's leader moved to another broker, three times.</summary>
    LeaderMoves,

    /// <summary>Retriable produce errors after which the records are known not written: NOT_LEADER_FOR_PARTITION, NOT_ENOUGH_REPLICAS.</summary>
    ProduceErrors,

    /// <summary>
    /// Retriable produce errors after which the records may have been written: REQUEST_TIMED_OUT,
    /// NOT_ENOUGH_REPLICAS_AFTER_APPEND. On the mock cluster both kinds lose acked events (see the README).
    /// </summary>
    ProduceTimeouts,

    /// <summary>OUT_OF_ORDER_SEQUENCE_NUMBER on produce requests (fatal for an idempotent producer in librdkafka).</summary>
    OutOfOrderSequence,

    /// <summary>The gateway process killed with SIGKILL, then started again on the same port.</summary>
    Sigkill,
}

/// <summary>One fault of the schedule, from <c>--faults</c>: <c>broker-down:5</c>, <c>kafka-down:30</c>, <c>past-timeout</c>, <c>leader-moves</c>, <c>produce-errors</c>, <c>out-of-order</c>, <c>sigkill</c>.</summary>
internal sealed record FaultSpec(FaultKind Kind, int Seconds)
{
    public const string Help = "broker-down:S (broker 1 down S seconds), kafka-down:S (every broker down S seconds), past-timeout (every broker down past the delivery timeout), leader-moves, produce-errors (NOT_LEADER_FOR_PARTITION, NOT_ENOUGH_REPLICAS) and produce-timeouts (REQUEST_TIMED_OUT, NOT_ENOUGH_REPLICAS_AFTER_APPEND), both losing acked events on the mock cluster unless max.in.flight is 1, out-of-order (OUT_OF_ORDER_SEQUENCE_NUMBER), sigkill";

    /// <summary>
    /// The default schedule: every fault whose guarantee holds on the mock cluster. produce-errors and
    /// produce-timeouts are left out: on the mock they lose acked events (see the README), which
    /// Apache Kafka would not.
    /// </summary>
    public const string Default = "broker-down:5,kafka-down:5,kafka-down:30,past-timeout,leader-moves,out-of-order,sigkill";

    public string Name => Kind switch
    {
        FaultKind.BrokerDown => $"broker-down:{Seconds}",
        FaultKind.KafkaDown => $"kafka-down:{Seconds}",
        FaultKind.PastTimeout => "past-timeout",
        FaultKind.LeaderMoves => "leader-moves",
        FaultKind.ProduceErrors => "produce-errors",
        FaultKind.ProduceTimeouts => "produce-timeouts",
        FaultKind.OutOfOrderSequence => "out-of-order",
        FaultKind.Sigkill => "sigkill",
        _ => Kind.ToString(),
    };

    /// <summary>A fault of the broker side (during which the mock cluster may store a producer retry twice).</summary>
    public bool IsBrokerFault => Kind != FaultKind.Sigkill;

    /// <summary>How long the fault itself lasts, for the schedule.</summary>
    public TimeSpan Length(TimeSpan deliveryTimeout) => Kind switch
    {
        FaultKind.BrokerDown or FaultKind.KafkaDown => TimeSpan.FromSeconds(Seconds),
        FaultKind.PastTimeout => deliveryTimeout + TimeSpan.FromSeconds(5),
        FaultKind.LeaderMoves => TimeSpan.FromSeconds(3),
        FaultKind.ProduceErrors or FaultKind.ProduceTimeouts => TimeSpan.FromSeconds(3),
        FaultKind.OutOfOrderSequence => TimeSpan.FromSeconds(5),
        FaultKind.Sigkill => TimeSpan.FromSeconds(3),
        _ => TimeSpan.Zero,
    };

    /// <summary>Parses a comma-separated list; throws <see cref="FormatException"/> naming the bad entry.</summary>
    public static IReadOnlyList<FaultSpec> ParseList(string text)
    {
        var faults = new List<FaultSpec>();
        foreach (var entry in text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var colon = entry.IndexOf(':', StringComparison.Ordinal);
            var name = colon < 0 ? entry : entry[..colon];
            var argument = colon < 0 ? null : entry[(colon + 1)..];
            int Seconds()
            {
                if (argument is null || !int.TryParse(argument, NumberStyles.None, CultureInfo.InvariantCulture, out var seconds) || seconds < 1 || seconds > 3600)
                {
                    throw new FormatException($"'{entry}': {name} needs a duration in seconds, e.g. {name}:5.");
                }

                return seconds;
            }

            void NoArgument()
            {
                if (argument is not null)
                {
                    throw new FormatException($"'{entry}': {name} takes no argument.");
                }
            }

            switch (name)
            {
                case "broker-down": faults.Add(new FaultSpec(FaultKind.BrokerDown, Seconds())); break;
                case "kafka-down": faults.Add(new FaultSpec(FaultKind.KafkaDown, Seconds())); break;
                case "past-timeout": NoArgument(); faults.Add(new FaultSpec(FaultKind.PastTimeout, 0)); break;
                case "leader-moves": NoArgument(); faults.Add(new FaultSpec(FaultKind.LeaderMoves, 0)); break;
                case "produce-errors": NoArgument(); faults.Add(new FaultSpec(FaultKind.ProduceErrors, 0)); break;
                case "produce-timeouts": NoArgument(); faults.Add(new FaultSpec(FaultKind.ProduceTimeouts, 0)); break;
                case "out-of-order": NoArgument(); faults.Add(new FaultSpec(FaultKind.OutOfOrderSequence, 0)); break;
                case "sigkill": NoArgument(); faults.Add(new FaultSpec(FaultKind.Sigkill, 0)); break;
                default: throw new FormatException($"'{entry}' is not a fault; the faults are: {Help}.");
            }
        }

        return faults;
    }
}
