using System.Text.Json;
using Ingest.Gateway.Configuration;
using Ingest.Gateway.Security;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;
using Microsoft.Extensions.Options;

namespace Ingest.UnitTests.Security;

/// <summary>
/// <see cref="ClientAccess"/> on requests with no server: which API keys match (whole keys only,
/// whatever their lengths), what a refusal answers, and that no credential is ever logged.
/// </summary>
public sealed class ClientAccessTests
{
    private static readonly string[] Keys = ["k", "key-one", "a-much-longer-key-of-sixty-four-characters-0123456789abcdef0123"];

    private readonly FakeLogger<ClientAccess> _logger = new();

    private ClientAccess Access(Action<IngestOptions>? configure = null)
    {
        var options = new IngestOptions { Auth = { ApiKeys = Keys } };
        configure?.Invoke(options);
        _logger.ControlLevel(LogLevel.Trace, enabled: true);
        return new ClientAccess(Options.Create(options), _logger);
    }

    private static DefaultHttpContext Request(string? bearer = null, string? query = null)
    {
        var context = new DefaultHttpContext();
        context.Request.Path = "/ws";
        context.Response.Body = new MemoryStream();
        if (bearer is not null)
        {
            context.Request.Headers.Authorization = $"Bearer {bearer}";
        }

        if (query is not null)
        {
            context.Request.QueryString = QueryString.Create("access_token", query);
        }

        return context;
    }

    [Theory]
    [InlineData("k")]
    [InlineData("key-one")]
    [InlineData("a-much-longer-key-of-sixty-four-characters-0123456789abcdef0123")]
    public async Task EveryConfiguredKey_IsAdmitted_ByHeaderOrQuery(string key)
    {
        var access = Access();

        Assert.True((await access.AdmitAsync(Request(bearer: key))).Admitted);
        Assert.True((await access.AdmitAsync(Request(query: key))).Admitted);
    }

    [Theory]
    [InlineData("key-on")]
    [InlineData("key-one ")]
    [InlineData("key-onee")]
    [InlineData("KEY-ONE")]
    [InlineData("kk")]
    [InlineData("a-much-longer-key-of-sixty-four-characters-0123456789abcdef012")]
    public async Task APrefixOrAnExtensionOfAKey_IsRefused(string presented)
    {
        var context = Request(query: presented);

        Assert.False((await Access().AdmitAsync(context)).Admitted);
        Assert.Equal(StatusCodes.Status401Unauthorized, context.Response.StatusCode);
    }

    [Fact]
    public async Task NoCredential_Is401_WithTheBearerChallenge_AndTheErrorBody()
    {
        var context = Request();

        var admission = await Access().AdmitAsync(context);

        Assert.False(admission.Admitted);
        Assert.Equal(StatusCodes.Status401Unauthorized, context.Response.StatusCode);
        Assert.Equal("Bearer", context.Response.Headers.WWWAuthenticate.ToString());
        context.Response.Body.Position = 0;
        using var body = await JsonDocument.ParseAsync(context.Response.Body, cancellationToken: TestContext.Current.CancellationToken);
        Assert.Equal("unauthorized", body.RootElement.GetProperty("error").GetString());
    }

    [Fact]
    public async Task NoCredentialsConfigured_EveryoneIsAdmitted_WithoutAClientId()
    {
        var access = Access(o => o.Auth.ApiKeys = []);

        var admission = await access.AdmitAsync(Request(bearer: "whatever"));

        Assert.True(admission.Admitted);
        Assert.Null(admission.ClientId);
    }

    [Fact]
    public async Task Logs_NameTheVerdict_NeverTheCredential()
    {
        var access = Access();
        var wrong = "wrong-key-0123456789";

        await access.AdmitAsync(Request(query: wrong));
        await access.AdmitAsync(Request(bearer: "key-one"));
        await access.AdmitAsync(Request());

        var records = _logger.Collector.GetSnapshot();
        Assert.Contains(records, r => r.Message.Contains("credential Invalid", StringComparison.Ordinal));
        Assert.Contains(records, r => r.Message.Contains("credential Missing", StringComparison.Ordinal));
        Assert.All(records, r => Assert.DoesNotContain(wrong, r.Message, StringComparison.Ordinal));
        Assert.All(records, r => Assert.DoesNotContain("key-one", r.Message, StringComparison.Ordinal));
        Assert.All(records, r => Assert.All(r.StructuredState ?? [], p => Assert.DoesNotContain(wrong, p.Value ?? "", StringComparison.Ordinal)));
    }
}
