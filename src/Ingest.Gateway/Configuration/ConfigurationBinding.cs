namespace Ingest.Gateway.Configuration;

/// <summary>
/// Configuration binding whose failures are <see cref="ConfigurationException"/>s: the binder
/// throws <see cref="InvalidOperationException"/> for a value it cannot convert, with a message
/// that names the key ("Failed to convert configuration value at 'Ingest:Kafka:LingerMs' ...").
/// </summary>
internal static class ConfigurationBinding
{
    public static void Bind(IConfiguration section, object options)
    {
        try
        {
            section.Bind(options);
        }
        catch (InvalidOperationException e)
        {
            throw new ConfigurationException(e.Message, e);
        }
    }

    public static T GetValue<T>(IConfiguration configuration, string key, T defaultValue)
    {
        try
        {
            return configuration.GetValue(key, defaultValue)!;
        }
        catch (InvalidOperationException e)
        {
            throw new ConfigurationException($"{key}: {e.Message}", e);
        }
    }
}
