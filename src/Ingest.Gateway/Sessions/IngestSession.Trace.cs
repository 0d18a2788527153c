using Ingest.Gateway.Diagnostics;

namespace Ingest.Gateway.Sessions;

/// <summary>The session's part in tracing: where its records come from.</summary>
internal sealed partial class IngestSession
{
    /// <summary>
    /// The connection's recorded activity, set before the first message is read; null while
    /// tracing is off or the activity is not sampled (then its records carry no <c>traceparent</c>).
    /// </summary>
    public TraceOrigin? Trace
    {
        get => _source.Trace;
        set => _source.Trace = value;
    }
}
