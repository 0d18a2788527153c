using Microsoft.Extensions.Options;

namespace Ingest.Gateway.Configuration;

/// <summary>
/// The rules for credentials that data annotations cannot say: token keys (id, base64 secret of at
/// least 32 bytes, unique ids) and management access that needs one. Failures name the key, never
/// a secret.
/// </summary>
internal sealed class AuthOptionsValidator : IValidateOptions<IngestOptions>
{
    public ValidateOptionsResult Validate(string? name, IngestOptions options)
    {
        var failures = new List<string>();
        var keys = options.Auth.Tokens.Keys;
        var ids = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < keys.Length; i++)
        {
            var key = $"Ingest:Auth:Tokens:Keys:{i}";
            var id = keys[i].Id;
            if (string.IsNullOrWhiteSpace(id))
            {
                failures.Add($"{key}:Id is required: the kid that tokens signed with this key carry");
            }
            else if (!ids.Add(id))
            {
                failures.Add($"{key}:Id '{id}' is the id of an earlier key too: key ids must be unique");
            }

            if (string.IsNullOrEmpty(keys[i].Secret))
            {
                failures.Add($"{key}:Secret is required (key '{id}')");
            }
            else if (keys[i].SecretBytes() is not { } secret)
            {
                failures.Add($"{key}:Secret must be base64 (key '{id}')");
            }
            else if (secret.Length < TokenKeyOptions.MinSecretBytes)
            {
                failures.Add($"{key}:Secret must be at least {TokenKeyOptions.MinSecretBytes} bytes (256 bits) once decoded from base64, as HS256 requires (key '{id}'); e.g. openssl rand -base64 32");
            }
        }

        if (options.Management.RequireApiKey && !options.Auth.Required)
        {
            failures.Add("Ingest:Management:RequireApiKey needs Ingest:Auth:ApiKeys or Ingest:Auth:Tokens:Keys: there is no credential to require");
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
