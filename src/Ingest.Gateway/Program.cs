using Ingest.Gateway;
using Ingest.Gateway.Hosting;
using Microsoft.Extensions.Options;

try
{
    await using var app = GatewayApp.Build(args);
    await app.RunAsync();
    return Environment.ExitCode;
}
catch (OptionsValidationException e)
{
    // One clear line per problem, naming the configuration key.
    foreach (var failure in e.Failures)
    {
        await Console.Error.WriteLineAsync($"Invalid configuration: {ConfigurationErrors.Describe(failure)}");
    }

    return 2;
}
catch (InvalidOperationException e) when (e.Message.StartsWith("Failed to convert configuration value", StringComparison.Ordinal))
{
    await Console.Error.WriteLineAsync($"Invalid configuration: {e.Message}");
    return 2;
}
