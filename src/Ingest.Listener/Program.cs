using Ingest.Kafka.Discovery;
using Ingest.Listener.Cli;
using Ingest.Listener.Output;

var console = ListenerConsole.ForProcess();
return await ListenerCommand.InvokeAsync(args, console, () => DevEnvironmentFile.TryRead(), handleTermination: true, CancellationToken.None);
