using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;

namespace Ingest.Testing;

/// <summary>One Server-Sent Event as dispatched to a client: its type, its data lines joined with LF, its id.</summary>
internal sealed record SseEvent(string Type, string Data, string? Id)
{
    /// <summary>The record value inside a <c>telemetry</c> event's data, exactly as the gateway sent it.</summary>
    public string RawEvent
    {
        get
        {
            using var data = JsonDocument.Parse(Data);
            return data.RootElement.GetProperty("event").GetRawText();
        }
    }
}

/// <summary>
/// A <c>/stream</c> subscriber over HttpClient (streamed response): parses the event stream as
/// the WHATWG rules say (fields, comments, multi-line data, the blank line that dispatches) and
/// records it, with waits that end as soon as a condition holds. Reading can be paused, so that the
/// gateway sees a slow client; the socket's receive buffer can be made small, so that it notices soon.
/// </summary>
internal sealed class SseClient : IAsyncDisposable
{
    private readonly HttpClient _http;
    private readonly HttpResponseMessage _response;
    private readonly Stream _body;
    private readonly ChangeSignal _signal = new();
    private readonly List<SseEvent> _events = [];
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _readLoop;
    private readonly bool _retain;
    private readonly Action<SseEvent>? _observer;
    private TaskCompletionSource _resumed;

    private SseClient(HttpClient http, HttpResponseMessage response, Stream body, bool paused, bool retain, Action<SseEvent>? observer)
    {
        _retain = retain;
        _observer = observer;
        _http = http;
        _response = response;
        _body = body;
        _resumed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        if (!paused)
        {
            _resumed.SetResult();
        }

        _readLoop = Task.Run(ReadLoopAsync);
    }

    public HttpResponseMessage Response => _response;

    public int Heartbeats { get; private set; }

    /// <summary>Telemetry events received (counted even when events are not retained).</summary>
    public long TelemetryCount { get; private set; }

    /// <summary>The sum of every <c>event: dropped</c> notice's count.</summary>
    public long DroppedTotal { get; private set; }

    public int? RetryMs { get; private set; }

    /// <summary>The stream ended (the server completed the response, or the connection broke).</summary>
    public bool Ended { get; private set; }

    /// <summary>Why reading stopped, when it was not a clean end of the response.</summary>
    public Exception? Failure { get; private set; }

    public IReadOnlyList<SseEvent> Events
    {
        get
        {
            lock (_signal.Gate)
            {
                return _events.ToArray();
            }
        }
    }

    public IReadOnlyList<SseEvent> Telemetry => Events.Where(e => e.Type == "telemetry").ToArray();

    /// <summary>
    /// Opens <paramref name="pathAndQuery"/> and waits for the response headers; see
    /// <see cref="WaitForReadyAsync"/>. Without <paramref name="retain"/> telemetry events are only
    /// counted and shown to <paramref name="observer"/> (on the reading thread), for long streams.
    /// </summary>
    public static async Task<SseClient> ConnectAsync(
        Uri gateway,
        string pathAndQuery = "/stream",
        Action<HttpRequestMessage>? configure = null,
        bool paused = false,
        int? receiveBufferSize = null,
        bool retain = true,
        Action<SseEvent>? observer = null)
    {
        var handler = new SocketsHttpHandler();
        if (receiveBufferSize is { } size)
        {
            handler.ConnectCallback = async (context, cancellationToken) =>
            {
                // Set before connecting, so that the advertised TCP window stays small.
                var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { ReceiveBufferSize = size, NoDelay = true };
                await socket.ConnectAsync(context.DnsEndPoint, cancellationToken);
                return new NetworkStream(socket, ownsSocket: true);
            };
        }

        var http = new HttpClient(handler) { BaseAddress = gateway, Timeout = Timeout.InfiniteTimeSpan };
        using var request = new HttpRequestMessage(HttpMethod.Get, pathAndQuery);
        request.Headers.Accept.ParseAdd("text/event-stream");
        configure?.Invoke(request);
        using var timeout = new CancellationTokenSource(TestClient.DefaultTimeout);
        var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, timeout.Token);
        var body = await response.Content.ReadAsStreamAsync(timeout.Token);
        return new SseClient(http, response, body, paused, retain, observer);
    }

    /// <summary>Waits for <c>event: ready</c>: from then on every event written to Kafka is delivered (or counted as dropped).</summary>
    public async Task<SseEvent> WaitForReadyAsync(TimeSpan? timeout = null)
    {
        await WaitUntilAsync(() => Events.Any(e => e.Type == "ready"), "event: ready", timeout);
        return Events.First(e => e.Type == "ready");
    }

    /// <summary>Stops taking bytes from the socket (after the line being read).</summary>
    public void Pause()
    {
        lock (_signal.Gate)
        {
            if (_resumed.Task.IsCompleted)
            {
                _resumed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            }
        }
    }

    public void Resume()
    {
        lock (_signal.Gate)
        {
            _resumed.TrySetResult();
        }
    }

    /// <summary>Waits until <paramref name="condition"/> holds, re-checking after every event.</summary>
    public Task WaitUntilAsync(Func<bool> condition, string what, TimeSpan? timeout = null) =>
        _signal.WaitUntilAsync(
            condition,
            what,
            timeout ?? TestClient.DefaultTimeout,
            () => Ended ? $"Stream ended ({Failure?.Message ?? "end of response"})" : null,
            () => $"last events: {Describe()}",
            _stop.Token);

    private string Describe() =>
        $"{TelemetryCount} telemetry, {DroppedTotal} dropped, last: " + string.Join(" | ", Events.TakeLast(3).Select(e => $"{e.Type}: {(e.Data.Length > 160 ? e.Data[..160] + "..." : e.Data)}"));

    private async Task ReadLoopAsync()
    {
        // The gateway ends lines with LF only; a frame ends with an empty line. Bytes are split
        // into lines here (not with a StreamReader per line) so that a fast client stays fast.
        var buffer = new byte[64 * 1024];
        var pending = new MemoryStream();
        var type = "message";
        var data = new StringBuilder();
        var hasData = false;
        string? id = null;
        try
        {
            while (true)
            {
                Task resumed;
                lock (_signal.Gate)
                {
                    resumed = _resumed.Task;
                }

                await resumed.WaitAsync(_stop.Token);
                var read = await _body.ReadAsync(buffer, _stop.Token);
                if (read == 0)
                {
                    break;
                }

                pending.Write(buffer, 0, read);
                var bytes = pending.GetBuffer().AsSpan(0, (int)pending.Length);
                var consumed = 0;
                var dispatched = new List<SseEvent>();
                int end;
                while ((end = bytes[consumed..].IndexOf((byte)'\n')) >= 0)
                {
                    var line = Encoding.UTF8.GetString(bytes.Slice(consumed, end));
                    consumed += end + 1;
                    if (line.Length == 0)
                    {
                        if (hasData)
                        {
                            dispatched.Add(new SseEvent(type, data.ToString(), id));
                        }

                        type = "message";
                        data.Clear();
                        hasData = false;
                        continue;
                    }

                    if (line[0] == ':')
                    {
                        if (line == ": heartbeat")
                        {
                            Heartbeats++;
                        }

                        continue;
                    }

                    var colon = line.IndexOf(':', StringComparison.Ordinal);
                    var field = colon < 0 ? line : line[..colon];
                    var value = colon < 0 ? "" : line[(colon + 1)..];
                    if (value.StartsWith(' '))
                    {
                        value = value[1..];
                    }

                    switch (field)
                    {
                        case "event":
                            type = value;
                            break;
                        case "data":
                            if (hasData)
                            {
                                data.Append('\n');
                            }

                            data.Append(value);
                            hasData = true;
                            break;
                        case "id":
                            id = value;
                            break;
                        case "retry":
                            RetryMs = int.Parse(value, System.Globalization.CultureInfo.InvariantCulture);
                            break;
                    }
                }

                var rest = bytes[consumed..].ToArray();
                pending.SetLength(0);
                pending.Write(rest);
                long telemetry = 0, dropped = 0;
                foreach (var e in dispatched)
                {
                    _observer?.Invoke(e);
                    if (e.Type == "telemetry")
                    {
                        telemetry++;
                    }
                    else if (e.Type == "dropped")
                    {
                        using var notice = JsonDocument.Parse(e.Data);
                        dropped += notice.RootElement.GetProperty("dropped").GetInt64();
                    }
                }

                _signal.Publish(() =>
                {
                    _events.AddRange(_retain ? dispatched : dispatched.Where(e => e.Type != "telemetry"));
                    TelemetryCount += telemetry;
                    DroppedTotal += dropped;
                });
            }
        }
        catch (Exception e) when (e is IOException or HttpRequestException or OperationCanceledException or ObjectDisposedException)
        {
            Failure = e;
        }
        finally
        {
            _signal.Publish(() => Ended = true);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        Resume();
        await _readLoop;
        await _body.DisposeAsync();
        _response.Dispose();
        _http.Dispose();
        _stop.Dispose();
    }
}

/// <summary>
/// A <c>/stream</c> subscriber that sends its GET over a raw socket on 127.0.0.1 and then never
/// reads, with a small receive buffer: its TCP window closes, and the gateway's writes to it wait forever.
/// </summary>
internal sealed class StuckSubscriber : IDisposable
{
    private readonly Socket _socket;

    private StuckSubscriber(Socket socket) => _socket = socket;

    public static async Task<StuckSubscriber> ConnectAsync(Uri gateway, string pathAndQuery = "/stream")
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { ReceiveBufferSize = 4096 };
        await socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, gateway.Port), TestContext.Current.CancellationToken);
        var request = $"GET {pathAndQuery} HTTP/1.1\r\nHost: 127.0.0.1:{gateway.Port}\r\nAccept: text/event-stream\r\n\r\n";
        await socket.SendAsync(Encoding.ASCII.GetBytes(request), TestContext.Current.CancellationToken);
        return new StuckSubscriber(socket);
    }

    /// <summary>
    /// Reads (discarding) until the gateway ends the connection: true when it did (end of stream or
    /// reset) within <paramref name="timeout"/>.
    /// </summary>
    public async Task<bool> WaitForEndAsync(TimeSpan timeout)
    {
        var buffer = new byte[64 * 1024];
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        deadline.CancelAfter(timeout);
        try
        {
            while (await _socket.ReceiveAsync(buffer, SocketFlags.None, deadline.Token) > 0)
            {
            }

            return true;
        }
        catch (SocketException)
        {
            return true;
        }
        catch (OperationCanceledException) when (!TestContext.Current.CancellationToken.IsCancellationRequested)
        {
            return false;
        }
    }

    /// <summary>Closes the socket (with unread data in it, so the gateway sees a reset).</summary>
    public void Dispose() => _socket.Dispose();
}
