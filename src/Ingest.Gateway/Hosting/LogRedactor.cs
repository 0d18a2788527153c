using System.Text.RegularExpressions;
using Ingest.Gateway.Configuration;
using Microsoft.Extensions.Primitives;

namespace Ingest.Gateway.Hosting;

/// <summary>
/// Masks credentials in text bound for the logs: <c>access_token=</c> query values,
/// <c>Bearer</c> values, anything shaped like a JWT, and the exact values of the configured secrets
/// (API keys, token secrets, Kafka client properties named <c>*password</c> or <c>*secret</c>).
/// Secrets are read from the live configuration, again whenever it changes.
/// </summary>
internal sealed partial class LogRedactor : IDisposable
{
    public const string Mask = "[redacted]";

    private static readonly string[] KafkaSections = ["Client", "Producer", "Consumer"];

    private readonly IDisposable? _reload;
    private string[] _secrets;

    /// <summary>Redacts the secrets of <paramref name="configuration"/>, as it is now and as it changes.</summary>
    public LogRedactor(IConfiguration configuration)
    {
        _secrets = SecretsIn(configuration);
        _reload = ChangeToken.OnChange(configuration.GetReloadToken, () => Volatile.Write(ref _secrets, SecretsIn(configuration)));
    }

    /// <summary>Redacts these <paramref name="secrets"/> (and the patterns).</summary>
    public LogRedactor(IEnumerable<string> secrets)
    {
        _secrets = Order(secrets);
    }

    /// <summary><paramref name="text"/> with every credential in it replaced by <see cref="Mask"/>; the same instance when there is none.</summary>
    public string Redact(string text)
    {
        foreach (var secret in Volatile.Read(ref _secrets))
        {
            if (text.Contains(secret, StringComparison.Ordinal))
            {
                text = text.Replace(secret, Mask, StringComparison.Ordinal);
            }
        }

        return Credential().IsMatch(text) ? Credential().Replace(text, "${prefix}" + Mask) : text;
    }

    public void Dispose() => _reload?.Dispose();

    /// <summary>The configured secrets, longest first, so that a secret inside another is not left half masked.</summary>
    internal static string[] SecretsIn(IConfiguration configuration)
    {
        var auth = configuration.GetSection($"{IngestOptions.SectionName}:Auth");
        var kafka = configuration.GetSection($"{IngestOptions.SectionName}:Kafka");
        return Order(
            auth.GetSection("ApiKeys").GetChildren().Select(k => k.Value)
                .Concat(auth.GetSection("Tokens:Keys").GetChildren().Select(k => k["Secret"]))
                .Concat(KafkaSections.SelectMany(s => kafka.GetSection(s).GetChildren()).Where(p => IsSecretProperty(p.Key)).Select(p => p.Value))
                .OfType<string>());
    }

    /// <summary>Whether a Kafka client property holds a secret: librdkafka's secret properties, and any name ending in password or secret.</summary>
    internal static bool IsSecretProperty(string key) =>
        KafkaClientProperties.IsSecret(key)
        || key.EndsWith("password", StringComparison.OrdinalIgnoreCase)
        || key.EndsWith("secret", StringComparison.OrdinalIgnoreCase);

    private static string[] Order(IEnumerable<string> secrets) =>
        secrets.Where(s => !string.IsNullOrEmpty(s) && s != Mask).Distinct(StringComparer.Ordinal).OrderByDescending(s => s.Length).ToArray();

    /// <summary>
    /// The value after <c>access_token=</c> or <c>Bearer </c> (up to a separator), or a JWT's three
    /// base64url parts (a header always starts <c>eyJ</c>, <c>{"</c> encoded).
    /// </summary>
    [GeneratedRegex("""(?<prefix>access_token=|\bBearer\s+)[^\s&#"',;]+|eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*""", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex Credential();
}
