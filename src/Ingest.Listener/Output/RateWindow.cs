namespace Ingest.Listener.Output;

/// <summary>
/// Events per second over a trailing window, from samples of the running total (taken at each
/// status tick, not per event, so the hot path pays nothing).
/// </summary>
internal sealed class RateWindow
{
    private readonly Queue<(TimeSpan At, long Total)> _samples = new();
    private readonly TimeSpan _window;

    public RateWindow(TimeSpan window) => _window = window;

    /// <summary>Adds a sample; <paramref name="at"/> only grows.</summary>
    public void Sample(TimeSpan at, long total)
    {
        _samples.Enqueue((at, total));
        // Keep one sample at or before the window start so the rate covers the whole window.
        while (_samples.Count > 2 && at - _samples.ElementAt(1).At >= _window)
        {
            _samples.Dequeue();
        }
    }

    /// <summary>Events per second from the oldest kept sample to the newest; 0 with fewer than two.</summary>
    public double PerSecond()
    {
        if (_samples.Count < 2)
        {
            return 0;
        }

        var (firstAt, firstTotal) = _samples.Peek();
        var (lastAt, lastTotal) = _samples.Last();
        var seconds = (lastAt - firstAt).TotalSeconds;
        return seconds <= 0 ? 0 : (lastTotal - firstTotal) / seconds;
    }
}
