using System.CommandLine;
using Ingest.Kafka.Discovery;
using Ingest.Listener.Benchmarks;
using Ingest.Listener.Output;

namespace Ingest.Listener.Cli;

/// <summary>The command line: options, their validation, and how they become <see cref="ListenerOptions"/>.</summary>
internal static class ListenerCommand
{
    internal const string DefaultTopic = "events";
    internal const string DefaultDeadLetterTopic = "events.dlq";

    /// <summary>
    /// Parses <paramref name="args"/> and runs the listener (or the benchmark).
    /// </summary>
    /// <param name="args">The command line.</param>
    /// <param name="console">Where to write; <see cref="ListenerConsole.ForProcess"/> for the real console.</param>
    /// <param name="discover">Finds a gateway's embedded broker on this machine (<see cref="DevEnvironmentFile.TryRead"/>).</param>
    /// <param name="handleTermination">Cancel on Ctrl-C and SIGTERM (the process only; tests cancel through the token).</param>
    /// <param name="cancellationToken">Stops the run as Ctrl-C does.</param>
    /// <param name="hooks">Test observation points.</param>
    public static async Task<int> InvokeAsync(
        string[] args,
        ListenerConsole console,
        Func<DevEnvironment?> discover,
        bool handleTermination,
        CancellationToken cancellationToken,
        ListenerHooks? hooks = null)
    {
        var root = Create(console, discover, hooks);
        var parseResult = root.Parse(args);
        if (parseResult.Errors.Count > 0)
        {
            foreach (var error in parseResult.Errors)
            {
                console.Error.WriteLine($"error: {error.Message}");
            }

            console.Error.WriteLine("Run with --help to see the options.");
            return ExitCodes.Usage;
        }

        var configuration = new InvocationConfiguration
        {
            Output = console.Out,
            Error = console.Error,
            // Long enough to commit and leave the group after Ctrl-C.
            ProcessTerminationTimeout = handleTermination ? TimeSpan.FromSeconds(10) : null,
        };
        try
        {
            return await parseResult.InvokeAsync(configuration, cancellationToken);
        }
        finally
        {
            console.Out.Flush();
        }
    }

    /// <summary>The root command with every option and the <c>bench</c> subcommand.</summary>
    public static RootCommand Create(ListenerConsole console, Func<DevEnvironment?> discover, ListenerHooks? hooks = null)
    {
        var bootstrap = new Option<string>("--bootstrap", "-b")
        {
            Description = "Kafka bootstrap servers (host:port,...). Default: the embedded broker of a gateway running on this machine.",
        };
        var topic = new Option<string>("--topic", "-t")
        {
            Description = $"Topic to read. Default: the discovered gateway's topic, else '{DefaultTopic}' ('{DefaultDeadLetterTopic}' with --dlq).",
        };
        var group = new Option<string>("--group", "-g")
        {
            Description = "Consumer group to join: resumes from its committed offsets and commits what it printed. Default: a fresh group, so every listener sees every event.",
        };
        var fromBeginning = new Option<bool>("--from-beginning")
        {
            Description = "Start from the oldest record (when the group has no committed offset). Default: from the end.",
        };
        var format = new Option<string>("--format", "-f")
        {
            Description = "Per-event output: text (time, partition/offset, clientId, msg, timestamp) or json (the raw value, one per line).",
            DefaultValueFactory = _ => "text",
        };
        format.AcceptOnlyFromAmong("text", "json");
        var headers = new Option<bool>("--headers")
        {
            Description = "Show the record headers (ingest-source, or ingest-received-at, ingest-connection and ingest-gateway).",
        };
        var showTrace = new Option<bool>("--show-trace")
        {
            Description = "Show each record's traceparent header (W3C Trace Context), which a gateway writes while it exports traces: text, traceparent=...; json, the envelope with \"traceparent\".",
        };
        var deadLetter = new Option<bool>("--dlq")
        {
            Description = $"Read the dead-letter topic (the discovered one, else '{DefaultDeadLetterTopic}') and show each rejected message with its error headers.",
        };
        var count = new Option<long?>("--count", "-n")
        {
            Description = "Stop after N events: exit 0 when N were seen, 1 when the timeout or Ctrl-C came first.",
        };
        count.Validators.Add(result =>
        {
            if (result.GetValueOrDefault<long?>() is < 1)
            {
                result.AddError("--count must be at least 1.");
            }
        });
        var timeout = new Option<double?>("--timeout")
        {
            Description = "Stop after S seconds (decimals allowed), counted from start.",
        };
        timeout.Validators.Add(result =>
        {
            if (result.GetValueOrDefault<double?>() is not null and not > 0)
            {
                result.AddError("--timeout must be a positive number of seconds.");
            }
        });
        var quiet = new Option<bool>("--quiet", "-q")
        {
            Description = "Print nothing per event (fastest); the count and the --verify summary are still printed.",
        };
        var verify = new Option<bool>("--verify")
        {
            Description = "At the end, summarise distinct events, duplicates (same key and value) and per-clientId counts; exit 2 on duplicates, out-of-order timestamps per clientId or values that are not events.",
        };
        var audit = new Option<string?>("--audit")
        {
            Description = "Reconcile a load run from the audit file the harness wrote (results/*-audit.json): read the topic range it names with a consumer of its own, count each event's copies, and print sent, acked, landed, duplicates and missing acked events per clientId and per partition, and whether the totals agree with the harness's. Exit 0 when nothing acked is missing and they agree, 2 otherwise.",
        };
        var noColour = new Option<bool>("--no-color")
        {
            Description = "No colour even on a terminal (NO_COLOR does the same).",
        };

        var root = new RootCommand(
            "Prints the telemetry events the Ingest gateway writes to Kafka, live, and verifies them. " +
            "Events go to stdout; the count, the summary, errors and the status line to stderr.")
        {
            bootstrap, topic, group, fromBeginning, format, headers, showTrace, deadLetter, count, timeout, quiet, verify, audit, noColour,
        };
        root.Validators.Add(result =>
        {
            if (result.GetValue(deadLetter) && result.GetValue(verify))
            {
                result.AddError("--verify checks events; it cannot be combined with --dlq.");
            }
        });
        root.Validators.Add(result =>
        {
            if (result.GetValue(audit) is not null && (result.GetValue(deadLetter) || result.GetValue(verify) || result.GetValue(count) is not null || result.GetValue(group) is not null || result.GetValue(topic) is not null || result.GetValue(fromBeginning)))
            {
                result.AddError("--audit reads the topic and the range its file names; it takes only --bootstrap (to reach the broker another way) and --timeout.");
            }
        });
        root.SetAction(async (parse, cancellationToken) =>
        {
            var given = parse.GetValue(bootstrap);
            if (parse.GetValue(audit) is { } auditFile)
            {
                var bound = parse.GetValue(timeout);
                return await Verification.AuditRun.RunAsync(auditFile, given, bound is { } b ? TimeSpan.FromSeconds(b) : null, console, cancellationToken);
            }

            var dlq = parse.GetValue(deadLetter);
            DevEnvironment? environment = null;
            if (given is null)
            {
                environment = discover();
                if (environment is null)
                {
                    console.Error.WriteLine(
                        $"error: no --bootstrap given and no gateway found on this machine ({DevEnvironmentFile.DefaultPath} is missing or its process has exited). " +
                        "Start a gateway (dotnet run --project src/Ingest.Gateway) or pass --bootstrap host:port.");
                    return ExitCodes.Failed;
                }
            }

            var topicName = parse.GetValue(topic);
            if (topicName is null)
            {
                topicName = dlq ? (environment is null ? DefaultDeadLetterTopic : environment.DeadLetterTopic) : environment?.Topic ?? DefaultTopic;
                if (topicName is null)
                {
                    console.Error.WriteLine("error: the gateway found on this machine runs with its dead-letter topic off; pass --topic to name one.");
                    return ExitCodes.Failed;
                }
            }

            var seconds = parse.GetValue(timeout);
            var options = new ListenerOptions
            {
                BootstrapServers = given ?? environment!.BootstrapServers,
                Topic = topicName,
                GroupId = parse.GetValue(group),
                FromBeginning = parse.GetValue(fromBeginning),
                Format = parse.GetValue(format) == "json" ? EventFormat.Json : EventFormat.Text,
                ShowHeaders = parse.GetValue(headers),
                ShowTrace = parse.GetValue(showTrace),
                DeadLetter = dlq,
                Count = parse.GetValue(count),
                Timeout = seconds is { } s ? TimeSpan.FromSeconds(s) : null,
                Quiet = parse.GetValue(quiet),
                Verify = parse.GetValue(verify),
            };
            var effective = parse.GetValue(noColour) && console.Colour
                ? new ListenerConsole(console.Out, console.Error, colour: false, console.LiveStatus, console.Width)
                : console;
            return await ListenerRun.RunAsync(options, effective, cancellationToken, hooks);
        });

        root.Subcommands.Add(BenchCommand.Create(console));
        return root;
    }
}
