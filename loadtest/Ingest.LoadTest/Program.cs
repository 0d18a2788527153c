using Ingest.LoadTest.Cli;

return await LoadTestCommand.Create().Parse(args).InvokeAsync();
