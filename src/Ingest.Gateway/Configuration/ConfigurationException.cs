namespace Ingest.Gateway.Configuration;

/// <summary>
/// A setting that cannot be used as given. The gateway exits with code 2 and prints
/// <see cref="Exception.Message"/>, which names the key.
/// </summary>
public sealed class ConfigurationException : Exception
{
    public ConfigurationException()
    {
    }

    public ConfigurationException(string message)
        : base(message)
    {
    }

    public ConfigurationException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
