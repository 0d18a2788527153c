using Ingest.BrowserTests.Infrastructure;
using Microsoft.Playwright;

[assembly: AssemblyFixture(typeof(BrowserFixture))]

// One browser, one page at a time: timings stay meaningful on a 2-core machine that also runs the
// integration tests.
[assembly: CollectionBehavior(DisableTestParallelization = true)]

namespace Ingest.BrowserTests.Infrastructure;

/// <summary>
/// Debian's Chromium (<c>/usr/bin/chromium</c>, or <c>$INGEST_CHROMIUM</c>) driven by Playwright,
/// started once for the test assembly. Playwright's own browser download needs the internet, so it
/// is never used: <c>scripts/setup.sh --tests</c> installs the Debian package.
/// </summary>
public sealed class BrowserFixture : IAsyncLifetime
{
    private IPlaywright? _playwright;
    private IBrowser? _browser;

    public static string ExecutablePath => Environment.GetEnvironmentVariable("INGEST_CHROMIUM") is { Length: > 0 } path ? path : "/usr/bin/chromium";

    public IBrowser Browser => _browser ?? throw new InvalidOperationException("the browser is not started");

    public async ValueTask InitializeAsync()
    {
        if (!File.Exists(ExecutablePath))
        {
            throw new InvalidOperationException($"Chromium not found at {ExecutablePath}: run `bash scripts/setup.sh --tests` (installs Debian's chromium) or set INGEST_CHROMIUM");
        }

        _playwright = await Playwright.CreateAsync();
        _browser = await _playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = ExecutablePath,
            Headless = true,
            Args = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
            Timeout = 60_000,
        });
    }

    public async ValueTask DisposeAsync()
    {
        if (_browser is not null)
        {
            await _browser.CloseAsync();
        }

        _playwright?.Dispose();
    }
}
