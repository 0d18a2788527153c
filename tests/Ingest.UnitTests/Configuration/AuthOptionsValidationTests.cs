using Ingest.Gateway.Configuration;

namespace Ingest.UnitTests.Configuration;

/// <summary>Token keys and management access: one line per problem naming the key, never the secret.</summary>
public sealed class AuthOptionsValidationTests
{
    private static readonly string GoodSecret = Convert.ToBase64String(Enumerable.Range(0, 32).Select(i => (byte)i).ToArray());

    private static IngestOptions WithKey(string id, string secret) =>
        new() { Auth = { Tokens = { Keys = [new TokenKeyOptions { Id = id, Secret = secret }] } } };

    [Fact]
    public void ValidKeys_AndManagementWithACredential_Succeed()
    {
        var options = WithKey("k1", GoodSecret);
        options.Management.RequireApiKey = true;

        Assert.True(new AuthOptionsValidator().Validate(null, options).Succeeded);
        Assert.True(new AuthOptionsValidator().Validate(null, new IngestOptions()).Succeeded);
    }

    public static TheoryData<string, string, string> BadKeys => new()
    {
        { "", GoodSecret, "Ingest:Auth:Tokens:Keys:0:Id" },
        { "k1", "", "Ingest:Auth:Tokens:Keys:0:Secret" },
        { "k1", "not base64 at all!", "Ingest:Auth:Tokens:Keys:0:Secret" },
        { "k1", Convert.ToBase64String(new byte[31]), "Ingest:Auth:Tokens:Keys:0:Secret" },
    };

    [Theory]
    [MemberData(nameof(BadKeys))]
    public void BadKey_FailsWithOneLineNamingTheKey_WithoutTheSecret(string id, string secret, string key)
    {
        var result = new AuthOptionsValidator().Validate(null, WithKey(id, secret));

        var line = Assert.Single(result.Failures!);
        Assert.StartsWith(key, line, StringComparison.Ordinal);
        if (secret.Length > 0)
        {
            Assert.DoesNotContain(secret, line, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void DuplicateKeyIds_Fail_NamingTheSecondKey()
    {
        var options = WithKey("k1", GoodSecret);
        options.Auth.Tokens.Keys = [.. options.Auth.Tokens.Keys, new TokenKeyOptions { Id = "k1", Secret = GoodSecret }];

        var line = Assert.Single(new AuthOptionsValidator().Validate(null, options).Failures!);

        Assert.StartsWith("Ingest:Auth:Tokens:Keys:1:Id", line, StringComparison.Ordinal);
    }

    [Fact]
    public void RequireApiKey_WithNoCredentialConfigured_Fails()
    {
        var options = new IngestOptions { Management = { RequireApiKey = true } };

        var line = Assert.Single(new AuthOptionsValidator().Validate(null, options).Failures!);

        Assert.StartsWith("Ingest:Management:RequireApiKey", line, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(-1, 0, "Ingest:Auth:Tokens:ClockSkewSeconds")]
    [InlineData(601, 0, "Ingest:Auth:Tokens:ClockSkewSeconds")]
    [InlineData(30, 65_536, "Ingest:Management:Port")]
    [InlineData(30, -1, "Ingest:Management:Port")]
    public void Ranges_FailWithALineNamingTheKey(int clockSkew, int port, string key)
    {
        var options = new IngestOptions { Auth = { Tokens = { ClockSkewSeconds = clockSkew } }, Management = { Port = port } };

        var result = new IngestOptionsValidator().Validate(null, options);

        var line = Assert.Single(result.Failures!.Select(ConfigurationErrors.Describe));
        Assert.StartsWith(key + ": ", line, StringComparison.Ordinal);
    }
}
