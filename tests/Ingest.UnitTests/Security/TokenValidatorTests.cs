using System.Security.Cryptography;
using Ingest.Gateway.Configuration;
using Ingest.Gateway.Security;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace Ingest.UnitTests.Security;

/// <summary>
/// What <see cref="TokenValidator"/> accepts: HS256, a configured kid, a future exp, the issuer and
/// audience when configured, a string clientId; tokens minted with the .NET token library, as a
/// .NET backend would.
/// </summary>
public sealed class TokenValidatorTests
{
    private static readonly byte[] Secret = RandomNumberGenerator.GetBytes(32);

    private static TokenValidator Validator(Action<TokenOptions>? configure = null, byte[]? secret = null)
    {
        var options = new TokenOptions { Keys = [new TokenKeyOptions { Id = "k1", Secret = Convert.ToBase64String(secret ?? Secret) }] };
        configure?.Invoke(options);
        return new TokenValidator(options);
    }

    private static string Mint(
        Dictionary<string, object>? claims = null,
        DateTime? expires = null,
        string kid = "k1",
        byte[]? secret = null,
        string algorithm = SecurityAlgorithms.HmacSha256,
        string? issuer = null,
        string? audience = null) =>
        new JsonWebTokenHandler().CreateToken(new SecurityTokenDescriptor
        {
            Claims = claims,
            Expires = expires ?? DateTime.UtcNow.AddMinutes(5),
            NotBefore = DateTime.UtcNow.AddMinutes(-10),
            IssuedAt = DateTime.UtcNow.AddMinutes(-10),
            Issuer = issuer,
            Audience = audience,
            SigningCredentials = new SigningCredentials(new SymmetricSecurityKey(secret ?? Secret) { KeyId = kid }, algorithm),
        });

    [Fact]
    public async Task ValidToken_WithClientId_IsValid_AndNamesTheClientId()
    {
        var check = await Validator().ValidateAsync(Mint(new() { ["clientId"] = "checkout" }));

        Assert.True(check.Valid);
        Assert.Equal("checkout", check.ClientId);
    }

    [Fact]
    public async Task ValidToken_WithoutClientId_IsValid_ForAnyClientId()
    {
        var check = await Validator().ValidateAsync(Mint());

        Assert.True(check.Valid);
        Assert.Null(check.ClientId);
    }

    [Fact]
    public async Task ValidToken_SignedWithTheSecondKey_IsValid()
    {
        var second = RandomNumberGenerator.GetBytes(48);
        var validator = Validator(o => o.Keys = [.. o.Keys, new TokenKeyOptions { Id = "k2", Secret = Convert.ToBase64String(second) }]);

        Assert.True((await validator.ValidateAsync(Mint(kid: "k2", secret: second))).Valid);
        Assert.False((await validator.ValidateAsync(Mint(kid: "k1", secret: second))).Valid);
    }

    [Fact]
    public async Task Hs512_IsRefused_EvenWithAKeyLongEnoughForIt()
    {
        var longKey = RandomNumberGenerator.GetBytes(64);

        var check = await Validator(secret: longKey).ValidateAsync(Mint(secret: longKey, algorithm: SecurityAlgorithms.HmacSha512));

        Assert.Equal(TokenRefusal.Invalid, check.Refusal);
        Assert.True((await Validator(secret: longKey).ValidateAsync(Mint(secret: longKey))).Valid);
    }

    [Fact]
    public async Task AlgNone_IsRefused()
    {
        var unsigned = new JsonWebTokenHandler().CreateToken($"{{\"exp\":{DateTimeOffset.UtcNow.AddMinutes(5).ToUnixTimeSeconds()}}}");

        Assert.EndsWith(".", unsigned, StringComparison.Ordinal);
        Assert.Equal(TokenRefusal.Invalid, (await Validator().ValidateAsync(unsigned)).Refusal);
    }

    [Fact]
    public async Task Expired_BeyondTheSkew_IsExpired_WithinIt_IsValid()
    {
        var twentySecondsAgo = Mint(expires: DateTime.UtcNow.AddSeconds(-20));

        Assert.True((await Validator().ValidateAsync(twentySecondsAgo)).Valid);
        Assert.Equal(TokenRefusal.Expired, (await Validator(o => o.ClockSkewSeconds = 0).ValidateAsync(twentySecondsAgo)).Refusal);
    }

    [Fact]
    public async Task NoExp_IsRefused()
    {
        var handler = new JsonWebTokenHandler { SetDefaultTimesOnTokenCreation = false };
        var token = handler.CreateToken(new SecurityTokenDescriptor
        {
            Claims = new Dictionary<string, object> { ["clientId"] = "a" },
            SigningCredentials = new SigningCredentials(new SymmetricSecurityKey(Secret) { KeyId = "k1" }, SecurityAlgorithms.HmacSha256),
        });

        Assert.Equal(TokenRefusal.Invalid, (await Validator().ValidateAsync(token)).Refusal);
    }

    [Fact]
    public async Task IssuerAndAudience_WhenConfigured_MustMatch()
    {
        var validator = Validator(o =>
        {
            o.Issuer = "https://backend.example.com";
            o.Audience = "ingest";
        });

        Assert.True((await validator.ValidateAsync(Mint(issuer: "https://backend.example.com", audience: "ingest"))).Valid);
        Assert.False((await validator.ValidateAsync(Mint(issuer: "https://other.example.com", audience: "ingest"))).Valid);
        Assert.False((await validator.ValidateAsync(Mint(issuer: "https://backend.example.com", audience: "other"))).Valid);
        Assert.False((await validator.ValidateAsync(Mint())).Valid);
        // Not configured: not checked.
        Assert.True((await Validator().ValidateAsync(Mint(issuer: "anyone", audience: "anything"))).Valid);
    }

    [Theory]
    [InlineData(42)]
    [InlineData("")]
    [InlineData(true)]
    public async Task ClientIdClaim_NotANonEmptyString_IsRefused(object clientId)
    {
        Assert.Equal(TokenRefusal.Invalid, (await Validator().ValidateAsync(Mint(new() { ["clientId"] = clientId }))).Refusal);
    }

    [Fact]
    public async Task ClientIdClaim_ThatLooksLikeADate_IsStillAString()
    {
        Assert.Equal("2024-01-01T00:00:00Z", (await Validator().ValidateAsync(Mint(new() { ["clientId"] = "2024-01-01T00:00:00Z" }))).ClientId);
    }

    [Theory]
    [InlineData("")]
    [InlineData("not a token")]
    [InlineData("a.b.c")]
    [InlineData("eyJhbGciOiJIUzI1NiJ9.e30")]
    public async Task Garbage_IsRefused_WithoutThrowing(string token)
    {
        Assert.Equal(TokenRefusal.Invalid, (await Validator().ValidateAsync(token)).Refusal);
    }

    [Fact]
    public async Task OversizeToken_IsRefused()
    {
        var token = Mint(new() { ["padding"] = new string('x', 9_000) });

        Assert.Equal(TokenRefusal.Invalid, (await Validator().ValidateAsync(token)).Refusal);
    }

    [Fact]
    public async Task NoKeysConfigured_NoTokenIsValid()
    {
        var validator = new TokenValidator(new TokenOptions());

        Assert.False(validator.Enabled);
        Assert.False((await validator.ValidateAsync(Mint())).Valid);
    }
}
