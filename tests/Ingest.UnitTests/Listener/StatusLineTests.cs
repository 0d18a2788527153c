using Ingest.Listener.Consuming;
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

        var line = status.Render(180_000, [new(0, 100, 112), new(1, 50, 50), new(2, null, 7)]);

        // Last minute: from 30 s (30,000) to 90 s (180,000) = 2,500/s.
        Assert.Equal("4,000 events/s, 2,500/s in the last minute | total 180,000 | lag 0:12 1:0 2:?", line);
    }

    [Fact]
    public void PartitionLag_IsHighWatermarkMinusPosition_UnknownWhenEitherIs()
    {
        Assert.Equal(12, new PartitionLag(0, 100, 112).Lag);
        Assert.Equal(0, new PartitionLag(0, 112, 112).Lag);
        Assert.Null(new PartitionLag(0, null, 112).Lag);
        Assert.Null(new PartitionLag(0, 100, null).Lag);
        Assert.Equal(15, PartitionLag.Total([new(0, 100, 112), new(1, null, 5), new(2, 0, 3)]));
        Assert.Null(PartitionLag.Total([new(0, null, 112)]));
    }

    [Fact]
    public void RenderJson_CarriesTheLagPerPartition_WithNullsForUnknownValues()
    {
        var status = new StatusLine();
        status.Sample(TimeSpan.Zero, 0);
        status.Sample(TimeSpan.FromSeconds(1), 250);

        var json = status.RenderJson(new DateTimeOffset(2026, 11, 3, 10, 15, 42, 120, TimeSpan.Zero), TimeSpan.FromSeconds(1.25), 250, [new(0, 100, 112), new(3, null, 7)], final: true);

        Assert.Equal(
            "{\"type\":\"status\",\"final\":true,\"time\":\"2026-11-03T10:15:42.120Z\",\"elapsedSeconds\":1.25,\"total\":250,\"eventsPerSecond\":250,\"eventsPerSecondLastMinute\":250,"
            + "\"lag\":12,\"partitions\":[{\"partition\":0,\"position\":100,\"highWatermark\":112,\"lag\":12},{\"partition\":3,\"position\":null,\"highWatermark\":7,\"lag\":null}]}",
            json);
    }

    [Fact]
    public void RenderAtExit_ShowsEachPartitionAndTheTotal()
    {
        Assert.Equal("lag at exit 0:12 1:0 2:? (total 12)", StatusLine.RenderAtExit([new(0, 100, 112), new(1, 5, 5), new(2, null, null)]));
        Assert.Equal("lag at exit (no partitions assigned)", StatusLine.RenderAtExit([]));
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
