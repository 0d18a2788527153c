using System.Collections.Concurrent;
using System.Text.Json;
using Microsoft.Playwright;

namespace Ingest.BrowserTests.Infrastructure;

/// <summary>The counters of an ingest.js client, as <c>client.stats()</c> returns them.</summary>
internal sealed record ClientCounters(
    string State,
    long Sent,
    long Acked,
    long Errors,
    long Rejected,
    long Buffered,
    long Dropped,
    long Resent,
    long Reconnects,
    long Messages);

/// <summary>
/// One page in its own browser context, with the page's console and errors kept for failure
/// messages, and waits that poll a JavaScript condition (no fixed sleeps).
/// </summary>
internal sealed class BrowserSession : IAsyncDisposable
{
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(60);

    public static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    private readonly IBrowserContext _context;
    private readonly ConcurrentQueue<string> _console = new();

    private BrowserSession(IBrowserContext context, IPage page)
    {
        _context = context;
        Page = page;
        page.Console += (_, message) => _console.Enqueue($"{message.Type}: {message.Text}");
        page.PageError += (_, error) => _console.Enqueue($"page error: {error}");
    }

    public IPage Page { get; }

    /// <summary>What the page logged, and its uncaught errors.</summary>
    public IReadOnlyCollection<string> Console => _console.ToArray();

    /// <param name="browser">The browser.</param>
    /// <param name="url">The page to open.</param>
    /// <param name="ignoreHttpsErrors">Accept any certificate (a test's self-signed one), for pages, WebSockets and requests alike.</param>
    public static async Task<BrowserSession> OpenAsync(BrowserFixture browser, Uri url, bool ignoreHttpsErrors = false)
    {
        var context = await browser.Browser.NewContextAsync(new BrowserNewContextOptions
        {
            ViewportSize = new ViewportSize { Width = 1100, Height = 900 },
            IgnoreHTTPSErrors = ignoreHttpsErrors,
        });
        context.SetDefaultTimeout((float)DefaultTimeout.TotalMilliseconds);
        var session = new BrowserSession(context, await context.NewPageAsync());
        var response = await session.Page.GotoAsync(url.ToString());
        if (response is not { Ok: true })
        {
            throw new InvalidOperationException($"GET {url} answered {response?.Status}");
        }

        return session;
    }

    /// <summary>Evaluates <paramref name="expression"/> (a function) and returns its result as JSON.</summary>
    public async Task<JsonElement> EvaluateAsync(string expression, object? arg = null)
    {
        var json = await Page.EvaluateAsync<string>($"async (arg) => JSON.stringify((await ({expression})(arg)) ?? null)", arg);
        using var document = JsonDocument.Parse(json);
        return document.RootElement.Clone();
    }

    public async Task<T> EvaluateAsync<T>(string expression, object? arg = null) =>
        (await EvaluateAsync(expression, arg)).Deserialize<T>(Json)!;

    /// <summary>The counters of the client that <paramref name="client"/> names in the page.</summary>
    public Task<ClientCounters> CountersAsync(string client = "ingestPage.client") =>
        EvaluateAsync<ClientCounters>($"() => {client}.stats()");

    /// <summary>
    /// Waits until the JavaScript <paramref name="condition"/> holds in the page (polled every
    /// 50 ms); on timeout fails with <paramref name="diagnostics"/>' value and the page's console.
    /// </summary>
    public async Task WaitForAsync(string condition, string what, TimeSpan? timeout = null, string diagnostics = "() => ingestPage.client.stats()")
    {
        try
        {
            await Page.WaitForFunctionAsync(condition, null, new PageWaitForFunctionOptions
            {
                PollingInterval = 50,
                Timeout = (float)(timeout ?? DefaultTimeout).TotalMilliseconds,
            });
        }
        catch (TimeoutException e)
        {
            var state = await EvaluateAsync(diagnostics);
            throw new TimeoutException($"Timed out waiting for {what} ({condition}); page state: {state}; console:{Environment.NewLine}{string.Join(Environment.NewLine, Console.TakeLast(30))}", e);
        }
    }

    public async ValueTask DisposeAsync() => await _context.CloseAsync();
}
