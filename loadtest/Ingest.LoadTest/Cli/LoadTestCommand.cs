using System.CommandLine;
using Ingest.LoadTest.Bench;

namespace Ingest.LoadTest.Cli;

/// <summary>The harness's command line: <c>bench</c> and the scenarios.</summary>
internal static class LoadTestCommand
{
    public static RootCommand Create()
    {
        var root = new RootCommand("Ingest load harness: many WebSocket clients against the gateway, verified in Kafka.");
        root.Subcommands.Add(CreateBench());
        return root;
    }

    private static Command CreateBench()
    {
        var connections = Positive("--connections", "Connections sending as fast as acks allow.", 64);
        var events = Positive("--events", "Events for the raw producer and for the gateway run.", 500_000);
        var batch = Positive("--batch", "Events per WebSocket message (1 = single objects, more = JSON arrays).", 1);
        var window = Positive("--window", "Unacked messages each connection may have in flight.", 64);
        var partitions = Positive("--partitions", "Partitions of the benchmark topics (the embedded broker keeps 5 MiB per partition).", 8);
        var paced = Positive("--paced-seconds", "Duration of the run paced at half the measured maximum.", 10);
        var idle = Positive("--idle-connections", "Idle connections for the memory measurement.", 10_000);
        var gateway = new Option<string?>("--gateway") { Description = "Path of Ingest.Gateway.dll (default: the one built in this repository)." };
        var results = new Option<string>("--results") { Description = "Folder for the Markdown and JSON reports.", DefaultValueFactory = _ => "results" };
        var command = new Command("bench", "Raw producer vs gateway end to end on one embedded broker; latency at full and half speed; memory per idle connection.")
        {
            connections, events, batch, window, partitions, paced, idle, gateway, results,
        };
        command.SetAction((parse, cancellationToken) => BenchRunner.RunAsync(
            new BenchOptions
            {
                Connections = parse.GetValue(connections),
                Events = parse.GetValue(events),
                Batch = parse.GetValue(batch),
                Window = parse.GetValue(window),
                Partitions = parse.GetValue(partitions),
                PacedSeconds = parse.GetValue(paced),
                IdleConnections = parse.GetValue(idle),
                GatewayDll = parse.GetValue(gateway),
                ResultsDirectory = parse.GetValue(results)!,
            },
            Console.Error,
            cancellationToken));
        return command;
    }

    internal static Option<int> Positive(string name, string description, int defaultValue)
    {
        var option = new Option<int>(name) { Description = description, DefaultValueFactory = _ => defaultValue };
        option.Validators.Add(result =>
        {
            if (result.GetValueOrDefault<int>() < 1)
            {
                result.AddError($"{name} must be at least 1.");
            }
        });
        return option;
    }
}
