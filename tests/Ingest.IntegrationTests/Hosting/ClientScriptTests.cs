using System.Net;
using Ingest.Testing;

namespace Ingest.IntegrationTests.Hosting;

/// <summary><c>/ingest.js</c> is served to pages of the origins that may open <c>/ws</c>.</summary>
public sealed class ClientScriptTests
{
    [Fact]
    public async Task IngestJs_NoAllowedOrigins_IsJavaScript_ForAnyOrigin_AndRevalidated()
    {
        await using var gateway = await TestGateway.StartAsync();

        using var response = await GetScriptAsync(gateway, "https://elsewhere.example");
        var body = await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/javascript", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal("*", Assert.Single(response.Headers.GetValues("Access-Control-Allow-Origin")));
        Assert.True(response.Headers.CacheControl?.NoCache);
        Assert.Contains("root.Ingest = factory(root)", body, StringComparison.Ordinal);
    }

    [Fact]
    public async Task IngestJs_AllowedOrigins_EchoesAnAllowedOrigin_AndNotOthers()
    {
        await using var gateway = await TestGateway.StartAsync(new Dictionary<string, string?>
        {
            ["Ingest:AllowedOrigins:0"] = "https://app.example.com",
        });

        using var allowed = await GetScriptAsync(gateway, "https://app.example.com");
        using var other = await GetScriptAsync(gateway, "https://evil.example.com");

        Assert.Equal("https://app.example.com", Assert.Single(allowed.Headers.GetValues("Access-Control-Allow-Origin")));
        Assert.Contains("Origin", allowed.Headers.Vary);
        Assert.Equal(HttpStatusCode.OK, other.StatusCode);
        Assert.False(other.Headers.Contains("Access-Control-Allow-Origin"));
        Assert.Contains("Origin", other.Headers.Vary);
    }

    private static async Task<HttpResponseMessage> GetScriptAsync(TestGateway gateway, string origin)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri("/ingest.js", UriKind.Relative));
        request.Headers.Add("Origin", origin);
        return await gateway.Http.SendAsync(request, TestContext.Current.CancellationToken);
    }
}
