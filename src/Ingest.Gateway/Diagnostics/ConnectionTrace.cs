using System.Diagnostics;
using Ingest.Gateway.Sessions;

namespace Ingest.Gateway.Diagnostics;

/// <summary>
/// The activity of one WebSocket connection (<c>ingest.connection</c>, a child of ASP.NET Core's
/// request activity for the handshake). It exists only while tracing listens (an OTLP trace
/// exporter is configured); when it is recorded, the connection's records carry its W3C
/// <c>traceparent</c> (docs/protocol.md, "What lands in Kafka").
/// </summary>
internal static class ConnectionTrace
{
    public const string ActivityName = "ingest.connection";

    public static Activity? Start(IngestSession session, string connectionId)
    {
        var activity = IngestMetrics.ActivitySource.StartActivity(ActivityName);
        if (activity is null)
        {
            return null;
        }

        activity.SetTag("ingest.connection.id", connectionId);
        if (activity.Recorded && activity.IdFormat == ActivityIdFormat.W3C)
        {
            session.Trace = new TraceOrigin(activity.Context, activity.Id!);
        }

        return activity;
    }

    /// <summary>Tags what the connection did, before the activity stops.</summary>
    public static void End(Activity? activity, IngestSession session)
    {
        if (activity is null)
        {
            return;
        }

        activity.SetTag("ingest.messages", session.MessagesReceived);
        var closed = session.Closed;
        activity.SetTag("ingest.close_code", closed?.Status);
        if (closed?.Status == Contracts.CloseCodes.InternalError)
        {
            activity.SetStatus(ActivityStatusCode.Error, "closed with 1011: not every message was resolved");
        }
    }
}

/// <summary>
/// The recorded activity records of a connection come from: its context, for the Kafka batch
/// activities' links, and its W3C <c>traceparent</c>, for the records' header.
/// </summary>
internal sealed class TraceOrigin(ActivityContext context, string traceParent)
{
    public ActivityContext Context { get; } = context;

    /// <summary><c>00-&lt;trace id&gt;-&lt;span id&gt;-&lt;flags&gt;</c> (W3C Trace Context, level 1).</summary>
    public string TraceParent { get; } = traceParent;

    public byte[] TraceParentUtf8 { get; } = System.Text.Encoding.ASCII.GetBytes(traceParent);
}
