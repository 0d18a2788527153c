using System.CommandLine;
using Ingest.Kafka.Discovery;
using Ingest.LoadTest.Bench;
using Ingest.LoadTest.Reports;
using Ingest.LoadTest.Scenarios;

namespace Ingest.LoadTest.Cli;

/// <summary>The harness's command line: <c>bench</c> and the scenarios.</summary>
internal static class LoadTestCommand
{
    public static RootCommand Create()
    {
        var root = new RootCommand("Ingest load harness: many WebSocket clients against the gateway, verified in Kafka.");
        root.Subcommands.Add(CreateBench());
        root.Subcommands.Add(CreateRawProducer());
        root.Subcommands.Add(CreateAbuse());
        root.Subcommands.Add(CreateIdleBench());
        root.Subcommands.Add(CreateChaos("chaos"));
        root.Subcommands.Add(CreateChaos("endurance"));
        foreach (var name in ScenarioSettings.Names)
        {
            root.Subcommands.Add(CreateScenario(name));
        }

        return root;
    }

    private static Command CreateBench()
    {
        var connections = Positive("--connections", "Connections sending as fast as acks allow (and paced, for the latency).", 64);
        var events = Positive("--events", "Events of each measured part of a round: raw producer without headers, with the gateway's record, gateway.", 500_000);
        var batch = Positive("--batch", "Events per WebSocket message (1 = single objects, more = JSON arrays).", 1);
        var window = Positive("--window", "Unacked messages each connection may have in flight.", 64);
        var partitions = Positive("--partitions", "Partitions of the benchmark topics (the embedded broker keeps 5 MiB per partition).", 8);
        var paced = Positive("--paced-seconds", "Duration of each paced run (raw producer and gateway at --latency-rate).", 10);
        var latencyRate = Positive("--latency-rate", "Events/s in total at which the raw producer's and the gateway's latency are compared.", 20_000);
        var halfMax = new Option<bool>("--paced-half-max") { Description = "Also pace the gateway at half its measured maximum (the latency measure of earlier benches)." };
        var cold = Positive("--cold-events", "Events sent to a fresh gateway process the moment it is ready (the cold start).", 200_000);
        var idle = Positive("--idle-connections", "Idle connections for the memory measurement.", 10_000);
        var rounds = Positive("--rounds", "Rounds of raw producer (both record shapes) then gateway; the report shows each and takes the median CPU ratio.", 5);
        var gateway = new Option<string?>("--gateway") { Description = "Path of Ingest.Gateway.dll (default: the one built in this repository)." };
        var gatewayEnv = new Option<string?>("--gateway-env")
        {
            Description = $"Environment file for the gateway processes (KEY=value lines; default: the repository's {GatewayEnvironment.RelativePath} when it exists; '{GatewayEnvironment.NoneOption}' for none).",
        };
        var results = new Option<string>("--results") { Description = "Folder for the Markdown, HTML and JSON reports.", DefaultValueFactory = _ => "results" };
        var command = new Command("bench", "Raw producer (without headers, with the gateway's) vs gateway end to end, CPU per event of each process; cold start; latency at a fixed rate; memory per idle connection.")
        {
            connections, events, batch, window, partitions, paced, latencyRate, halfMax, cold, idle, rounds, gateway, gatewayEnv, results,
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
                LatencyRate = parse.GetValue(latencyRate),
                PacedHalfMax = parse.GetValue(halfMax),
                ColdEvents = parse.GetValue(cold),
                IdleConnections = parse.GetValue(idle),
                Rounds = parse.GetValue(rounds),
                GatewayDll = parse.GetValue(gateway),
                GatewayEnv = parse.GetValue(gatewayEnv),
                ResultsDirectory = parse.GetValue(results)!,
            },
            Console.Error,
            cancellationToken));
        return command;
    }

    /// <summary>
    /// <c>raw-producer</c>, hidden: the bench's raw producer in a process of its own, so that its CPU
    /// time is its own (started by <see cref="RawProducerProcess"/>; JSON commands on stdin, one JSON
    /// result per line on stdout).
    /// </summary>
    private static Command CreateRawProducer()
    {
        var bootstrap = new Option<string>("--bootstrap") { Description = "Kafka bootstrap servers.", Required = true };
        var clients = Positive("--clients", "Clients whose keys the events carry (as the gateway's connections).", 64);
        var command = new Command("raw-producer", "The bench's raw producer process (used by bench).") { bootstrap, clients };
        command.Hidden = true;
        command.SetAction((parse, cancellationToken) =>
            RawProducerBench.ServeAsync(parse.GetValue(bootstrap)!, parse.GetValue(clients), Console.In, Console.Out, cancellationToken));
        return command;
    }

    private static Command CreateAbuse()
    {
        var garbage = Positive("--garbage-connections", "Connections sending invalid JSON as fast as they can.", 1_000);
        var good = Positive("--good-connections", "Well-behaved connections whose throughput is measured.", 4);
        var window = Positive("--window", "Unacked messages each good connection may have in flight.", 16);
        var seconds = Positive("--seconds", "Duration of each measured phase.", 10);
        var gateway = new Option<string?>("--gateway") { Description = "Path of Ingest.Gateway.dll (default: the one built in this repository)." };
        var once = new Option<bool>("--once") { Description = "Bad clients closed by the gateway stay away (by default they connect again at once, as an attacker would)." };
        var floodUrl = new Option<string?>("--flood-url") { Description = "Internal: be the flood process, against this gateway URL, for --seconds.", Hidden = true };
        var command = new Command("abuse", "What a flood of bad clients costs well-behaved ones: their acked events/s alone and during the flood.")
        {
            garbage, good, window, seconds, once, gateway, floodUrl,
        };
        command.SetAction((parse, cancellationToken) => parse.GetValue(floodUrl) is { } target
            ? AbuseRunner.FloodAsync(new Uri(target), parse.GetValue(garbage), parse.GetValue(seconds), parse.GetValue(once), cancellationToken)
            : AbuseRunner.RunAsync(
            new AbuseOptions
            {
                GarbageConnections = parse.GetValue(garbage),
                GoodConnections = parse.GetValue(good),
                Window = parse.GetValue(window),
                Seconds = parse.GetValue(seconds),
                Once = parse.GetValue(once),
                GatewayDll = parse.GetValue(gateway),
            },
            Console.Error,
            cancellationToken));
        return command;
    }

    private static Command CreateIdleBench()
    {
        var connections = Positive("--connections", "Connections held open at once, the active ones included.", 19_000);
        var active = Positive("--active", "Connections among them that send, paced, while the others stay idle.", 100);
        var rate = Positive("--events-per-second", "Events per second each active connection sends.", 10);
        var seconds = Positive("--seconds", "How long the active connections send.", 10);
        var parallelism = Positive("--connect-parallelism", "Handshakes in flight at once while connecting (the gateway keeps 512 slots for them).", 200);
        var hold = new Option<int>("--hold-seconds") { Description = "Seconds to hold still at the baseline and with every connection idle, for dotnet-gcdump or dotnet-counters.", DefaultValueFactory = _ => 0 };
        var sources = new Option<IReadOnlyList<System.Net.IPAddress>?>("--source-addresses")
        {
            Description = "Local addresses to connect from, round-robin, e.g. 127.0.0.2-127.0.0.5 or 127.0.0.1,127.0.0.7 (default: 127.0.0.1 up to 20,000 connections, 127.0.0.1-127.0.0.N beyond).",
            CustomParser = ParseSourceAddresses,
        };
        var settings = new Option<string[]>("--gateway-setting")
        {
            Description = "A gateway setting Key=Value (repeatable), e.g. Ingest:WebSocket:KeepAliveIntervalMs=0.",
            AllowMultipleArgumentsPerToken = false,
            DefaultValueFactory = _ => [],
        };
        var gateway = new Option<string?>("--gateway") { Description = "Path of Ingest.Gateway.dll (default: the one built in this repository)." };
        var results = new Option<string>("--results") { Description = "Folder for the Markdown report.", DefaultValueFactory = _ => "results" };
        var command = new Command("idle-bench", "Many idle connections on one gateway process: its RSS per idle connection, and the send-to-ack latency of a few active ones among them.")
        {
            connections, active, rate, seconds, parallelism, hold, sources, settings, gateway, results,
        };
        command.SetAction(async (parse, cancellationToken) =>
        {
            var pairs = new Dictionary<string, string>();
            foreach (var setting in parse.GetValue(settings) ?? [])
            {
                var equals = setting.IndexOf('=', StringComparison.Ordinal);
                if (equals < 1)
                {
                    await Console.Error.WriteLineAsync($"--gateway-setting wants Key=Value (got '{setting}').").ConfigureAwait(false);
                    return 2;
                }

                pairs[setting[..equals]] = setting[(equals + 1)..];
            }

            return await IdleConnectionsBench.RunAsync(
                new IdleBenchOptions
                {
                    Connections = parse.GetValue(connections),
                    Active = parse.GetValue(active),
                    EventsPerSecond = parse.GetValue(rate),
                    Seconds = parse.GetValue(seconds),
                    ConnectParallelism = parse.GetValue(parallelism),
                    HoldSeconds = Math.Max(0, parse.GetValue(hold)),
                    SourceAddresses = parse.GetValue(sources),
                    GatewaySettings = pairs,
                    GatewayDll = parse.GetValue(gateway),
                    ResultsDirectory = parse.GetValue(results)!,
                },
                Console.Error,
                cancellationToken).ConfigureAwait(false);
        });
        return command;
    }

    /// <summary>
    /// <c>chaos</c> (paced load and a schedule of faults) and <c>endurance</c> (the same without
    /// faults, by default an hour at half the measured maximum, the gateway's resources trend-checked).
    /// </summary>
    private static Command CreateChaos(string name)
    {
        var endurance = name == "endurance";
        var faults = new Option<IReadOnlyList<Chaos.FaultSpec>>("--faults")
        {
            Description = $"Faults, in order, spread over the run: {Chaos.FaultSpec.Help}.",
            CustomParser = ParseFaults,
            DefaultValueFactory = _ => endurance ? [] : Chaos.FaultSpec.ParseList(Chaos.FaultSpec.Default),
        };
        var duration = Positive("--duration-seconds", "How long the clients send (faults included).", endurance ? 3_600 : 180);
        var rate = new Option<int?>("--rate") { Description = endurance ? "Events/s in all (default: measure the maximum first, then pace at half of it)." : "Events/s in all, paced (default 4,000; 0: measure the maximum first and take half)." };
        var clients = Positive("--clients", "Clients (connections), each paced at rate / clients.", endurance ? 64 : 32);
        var partitions = Positive("--partitions", "Partitions of the run's topic (the embedded broker keeps 5 MiB per partition).", endurance ? 32 : 24);
        var brokers = Positive("--brokers", "Brokers of the embedded cluster (broker 1 is the one broker-down takes down).", 3);
        var deliveryTimeout = Positive("--delivery-timeout-ms", "The gateway's Ingest:Kafka:DeliveryTimeoutMs (its own default is 120 s; past-timeout keeps Kafka down 5 s longer).", 30_000);
        var window = Positive("--window", "Unacked messages each client may have in flight.", 64);
        var sample = Positive("--sample-seconds", "Seconds between samples of the gateway's RSS, GC heap, collections, threads and descriptors.", 10);
        var maxSeconds = Positive("--max-seconds", "Length of the as-fast-as-acked phase that measures the maximum.", 15);
        var gateway = new Option<string?>("--gateway") { Description = "Path of Ingest.Gateway.dll (default: the one built in this repository)." };
        var gatewayEnv = new Option<string?>("--gateway-env") { Description = $"Environment file for the gateway process (default: the repository's {GatewayEnvironment.RelativePath}; '{GatewayEnvironment.NoneOption}' for none)." };
        var results = new Option<string>("--results") { Description = "Folder for the reports, the resource samples and the audit file.", DefaultValueFactory = _ => "results" };
        var holdCluster = new Option<int>("--hold-cluster-seconds") { Description = "Keep the embedded cluster up this long after the report, for the listener's --audit of the run.", DefaultValueFactory = _ => 0 };
        var gatewaySettings = new Option<string[]>("--gateway-setting")
        {
            Description = "A gateway setting Key=Value (repeatable), e.g. Ingest:Kafka:Producer:max.in.flight.requests.per.connection=1.",
            AllowMultipleArgumentsPerToken = false,
            DefaultValueFactory = _ => [],
        };
        var command = new Command(
            name,
            endurance
                ? "A long run without faults (default one hour at half the measured maximum): the gateway's RSS, GC heap, collections, threads and descriptors sampled and trend-checked, every event counted in Kafka."
                : "Paced load on a gateway process and a 3-broker embedded cluster with a schedule of faults; each fault's guarantee checked by counting in Kafka; a delivery audit at the end.")
        {
            duration, rate, clients, partitions, brokers, deliveryTimeout, window, sample, maxSeconds, gateway, gatewayEnv, gatewaySettings, holdCluster, results,
        };
        if (!endurance)
        {
            command.Options.Add(faults);
        }

        command.SetAction(async (parse, cancellationToken) =>
        {
            var pairs = new Dictionary<string, string>();
            foreach (var setting in parse.GetValue(gatewaySettings) ?? [])
            {
                var equals = setting.IndexOf('=', StringComparison.Ordinal);
                if (equals < 1)
                {
                    await Console.Error.WriteLineAsync($"--gateway-setting wants Key=Value (got '{setting}').").ConfigureAwait(false);
                    return 2;
                }

                pairs[setting[..equals]] = setting[(equals + 1)..];
            }

            var given = parse.GetValue(rate);
            if (given is < 0)
            {
                await Console.Error.WriteLineAsync("--rate must be at least 0.").ConfigureAwait(false);
                return 2;
            }

            var outcome = await Chaos.ChaosRunner.RunAsync(
                new Chaos.ChaosOptions
                {
                    Command = name,
                    Faults = endurance ? [] : parse.GetValue(faults) ?? [],
                    DurationSeconds = parse.GetValue(duration),
                    Rate = given is null or 0 ? (endurance || given == 0 ? null : 4_000) : given,
                    Clients = parse.GetValue(clients),
                    Partitions = parse.GetValue(partitions),
                    Brokers = parse.GetValue(brokers),
                    DeliveryTimeoutMs = parse.GetValue(deliveryTimeout),
                    Window = parse.GetValue(window),
                    SampleSeconds = parse.GetValue(sample),
                    MaxSeconds = parse.GetValue(maxSeconds),
                    TrendGate = endurance,
                    GatewayDll = parse.GetValue(gateway),
                    GatewayEnv = parse.GetValue(gatewayEnv),
                    GatewaySettings = pairs,
                    HoldClusterSeconds = Math.Max(0, parse.GetValue(holdCluster)),
                    ResultsDirectory = parse.GetValue(results)!,
                },
                Console.Error,
                cancellationToken).ConfigureAwait(false);
            return outcome.ExitCode;
        });
        return command;
    }

    internal static IReadOnlyList<Chaos.FaultSpec>? ParseFaults(System.CommandLine.Parsing.ArgumentResult result)
    {
        var text = result.Tokens.Count == 1 ? result.Tokens[0].Value : "";
        try
        {
            return text == "none" ? [] : Chaos.FaultSpec.ParseList(text);
        }
        catch (FormatException e)
        {
            result.AddError($"--faults: {e.Message}");
            return null;
        }
    }

    /// <summary>A list of source addresses and ranges (<see cref="Engine.SourceAddresses.ParseList"/>).</summary>
    internal static IReadOnlyList<System.Net.IPAddress>? ParseSourceAddresses(System.CommandLine.Parsing.ArgumentResult result)
    {
        var text = result.Tokens.Count == 1 ? result.Tokens[0].Value : "";
        try
        {
            return Engine.SourceAddresses.ParseList(text);
        }
        catch (FormatException e)
        {
            result.AddError($"--source-addresses: {e.Message} (e.g. 127.0.0.2-127.0.0.5 or 127.0.0.1,127.0.0.7).");
            return null;
        }
    }

    private static Command CreateScenario(string name)
    {
        var url = new Option<Uri?>("--url")
        {
            Description = "Gateway WebSocket URL, e.g. ws://127.0.0.1:5080/ws (default: from the dev environment file a local gateway publishes).",
            CustomParser = ParseWebSocketUrl,
        };
        var bootstrap = new Option<string?>("--bootstrap") { Description = "Kafka bootstrap servers for verification (default: from the dev environment file)." };
        var topic = new Option<string?>("--topic") { Description = "Events topic (default: from the dev environment file, else events)." };
        var clients = new Option<int?>("--clients") { Description = "Clients (connections)." };
        var events = new Option<int?>("--events-per-client") { Description = "Events each client sends." };
        var batch = new Option<int?>("--batch") { Description = "Events per message (JSON arrays when more than 1)." };
        var interval = new Option<int?>("--interval-ms") { Description = "Milliseconds between a client's messages (paced scenarios)." };
        var window = new Option<int?>("--window") { Description = "Unacked messages a client may have in flight." };
        var hold = new Option<int?>("--hold-seconds") { Description = "Seconds every connection stays open and idle before sending." };
        var duration = new Option<int?>("--duration-seconds") { Description = "Paced scenarios: send for this long (sets the events per client from --interval-ms and --batch)." };
        var results = new Option<string>("--results") { Description = "Folder for the Markdown, HTML, JSON and CSV reports.", DefaultValueFactory = _ => "results" };
        var metricsUrl = new Option<string?>("--metrics-url")
        {
            Description = "The gateway's Prometheus endpoint, read at the end of the run for the report (default: http(s)://<--url's host and port>/metrics; 'none' to skip).",
        };
        var preset = ScenarioSettings.Preset(name, new Uri("ws://127.0.0.1/ws"), "");
        var command = new Command(name, $"Scenario {name}: {preset.Clients} clients x {preset.EventsPerClient} events, batch {preset.Batch}, {(preset.Simulation == LoadSimulation.Paced ? $"one message every {preset.Interval.TotalMilliseconds} ms" : "as fast as acked")}; verified in Kafka.")
        {
            url, bootstrap, topic, clients, events, batch, interval, window, hold, duration, results, metricsUrl,
        };
        command.SetAction(async (parse, cancellationToken) =>
        {
            var environment = DevEnvironmentFile.TryRead();
            var target = parse.GetValue(url) ?? GatewayUrl(environment);
            var servers = parse.GetValue(bootstrap) ?? environment?.BootstrapServers;
            if (target is null || string.IsNullOrEmpty(servers))
            {
                await Console.Error.WriteLineAsync($"No gateway found: start one (dotnet run --project src/Ingest.Gateway) or pass --url and --bootstrap ({DevEnvironmentFile.DefaultPath} is missing or stale).").ConfigureAwait(false);
                return 2;
            }

            var metrics = parse.GetValue(metricsUrl);
            Uri? metricsTarget = null;
            if (metrics is not null && metrics != "none"
                && (!Uri.TryCreate(metrics, UriKind.Absolute, out metricsTarget) || (metricsTarget.Scheme != Uri.UriSchemeHttp && metricsTarget.Scheme != Uri.UriSchemeHttps)))
            {
                await Console.Error.WriteLineAsync($"--metrics-url must be an absolute http:// or https:// URL, or none (got '{metrics}').").ConfigureAwait(false);
                return 2;
            }

            var settings = ScenarioSettings.Preset(name, target, servers) with
            {
                Topic = parse.GetValue(topic) ?? environment?.Topic ?? "events",
                ResultsDirectory = parse.GetValue(results)!,
                ScrapeMetrics = metrics != "none",
                MetricsUrl = metricsTarget,
            };
            settings = settings with
            {
                Clients = parse.GetValue(clients) ?? settings.Clients,
                EventsPerClient = parse.GetValue(events) ?? settings.EventsPerClient,
                Batch = parse.GetValue(batch) ?? settings.Batch,
                Interval = parse.GetValue(interval) is { } ms ? TimeSpan.FromMilliseconds(ms) : settings.Interval,
                Window = parse.GetValue(window) ?? settings.Window,
                Hold = parse.GetValue(hold) is { } seconds ? TimeSpan.FromSeconds(seconds) : settings.Hold,
            };
            if (settings.Clients < 1 || settings.EventsPerClient < 1 || settings.Batch < 1 || settings.Window < 1 || settings.Interval < TimeSpan.Zero || settings.Hold < TimeSpan.Zero)
            {
                await Console.Error.WriteLineAsync("--clients, --events-per-client, --batch and --window must be at least 1; --interval-ms and --hold-seconds at least 0.").ConfigureAwait(false);
                return 2;
            }

            if (parse.GetValue(duration) is { } runFor)
            {
                if (settings.Simulation != LoadSimulation.Paced || settings.Interval <= TimeSpan.Zero || runFor < 1)
                {
                    await Console.Error.WriteLineAsync("--duration-seconds needs a paced scenario (classic, soak, connections) with --interval-ms above 0, and at least 1 second.").ConfigureAwait(false);
                    return 2;
                }

                settings = settings.RunningFor(TimeSpan.FromSeconds(runFor));
            }

            await Console.Error.WriteLineAsync($"{name}: {settings.Clients} clients x {settings.EventsPerClient} events to {settings.Url}, verifying in {settings.Topic} at {settings.BootstrapServers}").ConfigureAwait(false);
            var result = await ScenarioRunner.RunAsync(settings, ScenarioReport.WriteProgress, cancellationToken).ConfigureAwait(false);
            if (!Console.IsErrorRedirected)
            {
                await Console.Error.WriteLineAsync().ConfigureAwait(false);
            }

            ScenarioReport.WriteToConsole(result, Console.Out);
            var files = await ScenarioReport.WriteFilesAsync(result, settings.ResultsDirectory, cancellationToken).ConfigureAwait(false);
            await Console.Error.WriteLineAsync($"Results: {files}, {files.Json[..^".json".Length]}-audit.json").ConfigureAwait(false);
            return result.Passed ? 0 : 1;
        });
        return command;
    }

    /// <summary>The ws:// URL of the gateway published in the dev environment file (its first http URL, path /ws).</summary>
    private static Uri? GatewayUrl(DevEnvironment? environment)
    {
        var http = environment?.GatewayUrls.FirstOrDefault(u => u.StartsWith("http://", StringComparison.Ordinal));
        if (http is null)
        {
            return null;
        }

        // Kestrel reports wildcard addresses such as http://[::]:5080; connect to loopback instead.
        var uri = new Uri(http.Replace("://[::]", "://127.0.0.1", StringComparison.Ordinal).Replace("://0.0.0.0", "://127.0.0.1", StringComparison.Ordinal).Replace("://+", "://127.0.0.1", StringComparison.Ordinal).Replace("://*", "://127.0.0.1", StringComparison.Ordinal));
        return new UriBuilder(uri) { Scheme = "ws", Path = "/ws" }.Uri;
    }

    /// <summary>An absolute ws:// or wss:// URL; System.CommandLine has no converter for <see cref="Uri"/>.</summary>
    internal static Uri? ParseWebSocketUrl(System.CommandLine.Parsing.ArgumentResult result)
    {
        var text = result.Tokens.Count == 1 ? result.Tokens[0].Value : "";
        if (Uri.TryCreate(text, UriKind.Absolute, out var uri) && (uri.Scheme == Uri.UriSchemeWs || uri.Scheme == Uri.UriSchemeWss))
        {
            return uri;
        }

        result.AddError($"--url must be an absolute ws:// or wss:// URL, e.g. ws://127.0.0.1:5080/ws (got '{text}').");
        return null;
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
