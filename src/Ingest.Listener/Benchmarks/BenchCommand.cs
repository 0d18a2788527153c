using System.CommandLine;
using Ingest.Listener.Output;

namespace Ingest.Listener.Benchmarks;

/// <summary>The <c>bench</c> subcommand: see <see cref="ListenerBenchmark"/>.</summary>
internal static class BenchCommand
{
    public static Command Create(ListenerConsole console)
    {
        var events = new Option<int>("--events")
        {
            Description = "Records to produce and read back.",
            DefaultValueFactory = _ => 1_000_000,
        };
        var partitions = new Option<int>("--partitions")
        {
            Description = "Partitions of the benchmark topic (the embedded broker keeps 5 MiB per partition; 4 lose some of 1M gateway-shaped records with headers, even lz4-compressed).",
            DefaultValueFactory = _ => 8,
        };
        var command = new Command("bench", "Measures the listener against a raw Confluent.Kafka consumer loop on an embedded broker started for the run.")
        {
            events, partitions,
        };
        foreach (var option in new[] { events, partitions })
        {
            option.Validators.Add(result =>
            {
                if (result.GetValueOrDefault<int>() < 1)
                {
                    result.AddError($"{option.Name} must be at least 1.");
                }
            });
        }

        command.SetAction((parse, cancellationToken) =>
            ListenerBenchmark.RunAsync(parse.GetValue(events), parse.GetValue(partitions), console.Error, cancellationToken));
        return command;
    }
}
