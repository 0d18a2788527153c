using Ingest.Listener.Output;

namespace Ingest.UnitTests.Listener;

public sealed class StatusLineTests
{
    [Fact]
    public void Render_ShowsRatesTotalAndLagPerPartition()
    {
        var status = new StatusLine();
        for (var second = 0; second <= 90; second++)
        {
            // 1,000/s for the first 60 s, then 4,000/s.
            var total = second <= 60 ? second * 1_000L : 60_000L + ((second - 60) * 4_000L);
            status.Sample(TimeSpan.FromSeconds(second), total);
        }

        var line = status.Render(180_000, [(0, 12), (1, 0), (2, null)]);

        // Last minute: from 30 s (30,000) to 90 s (180,000) = 2,500/s.
        Assert.Equal("4,000 events/s, 2,500/s in the last minute | total 180,000 | lag 0:12 1:0 2:?", line);
    }

    [Fact]
    public void Render_BeforeTwoSamples_ShowsZeroRate()
    {
        var status = new StatusLine();
        status.Sample(TimeSpan.Zero, 0);

        Assert.Equal("0 events/s, 0/s in the last minute | total 0 | lag (no partitions assigned)", status.Render(0, []));
    }

    [Fact]
    public void Console_StatusLine_IsClearedBeforeEventsAreFlushedAndRedrawnAfter()
    {
        using var output = new StringWriter();
        using var error = new StringWriter();
        var console = new ListenerConsole(output, error, liveStatus: true, width: () => 20);

        console.ShowStatus("a status line longer than the terminal");
        console.Out.Write("event\n");
        console.FlushEvents();

        Assert.Equal(Ansi.ClearLine + "a status line longe" + Ansi.ClearLine + "a status line longe", error.ToString());
        Assert.Equal("event\n", output.ToString());
    }

    [Fact]
    public void Console_WithoutLiveStatus_NeverWritesAStatusLine()
    {
        using var output = new StringWriter();
        using var error = new StringWriter();
        var console = new ListenerConsole(output, error, liveStatus: false);

        console.ShowStatus("status");
        console.FlushEvents();
        console.ClearStatus();

        Assert.Empty(error.ToString());
    }
}
