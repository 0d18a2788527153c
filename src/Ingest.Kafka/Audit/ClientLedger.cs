namespace Ingest.Kafka.Audit;

/// <summary>
/// One client of a run, seen from the client side: the events it sent (numbered 0, 1, 2, ...), the
/// ones acked, rejected (an <c>error</c> frame, <c>delivery_failed</c> included) and resent (after a
/// reconnect or a rejection). Ranges, not a slot per event, so a long run stays small. Thread-safe.
/// </summary>
public sealed class ClientLedger(int client, string clientId)
{
    private readonly Lock _lock = new();
    private readonly RangeSet _acked = new();
    private readonly RangeSet _rejected = new();
    private readonly RangeSet _resent = new();
    private int _sent;

    public int Client { get; } = client;

    public string ClientId { get; } = clientId;

    /// <summary>Events sent so far (0 to SentCount - 1).</summary>
    public int SentCount
    {
        get
        {
            lock (_lock)
            {
                return _sent;
            }
        }
    }

    public void Sent(int firstN, int count)
    {
        lock (_lock)
        {
            _sent = Math.Max(_sent, firstN + count);
        }
    }

    public void Acked(int firstN, int count) => Add(_acked, firstN, count);

    public void Rejected(int firstN, int count) => Add(_rejected, firstN, count);

    public void Resent(int firstN, int count) => Add(_resent, firstN, count);

    /// <summary>What the client did so far, copied.</summary>
    public ClientRecord Snapshot()
    {
        lock (_lock)
        {
            return new ClientRecord(Client, ClientId, _sent, _acked.Clone(), _rejected.Clone(), _resent.Clone());
        }
    }

    private void Add(RangeSet set, int firstN, int count)
    {
        lock (_lock)
        {
            set.AddRange(firstN, firstN + count - 1);
        }
    }
}

/// <summary>One client's side of a run: events 0 to <see cref="Sent"/> - 1 were sent.</summary>
public sealed record ClientRecord(int Client, string ClientId, int Sent, RangeSet Acked, RangeSet Rejected, RangeSet Resent);

/// <summary>
/// What Kafka holds of one client's events: the distinct events read, and the extra copies of
/// those read more than once. Not thread-safe: one consumer thread feeds it.
/// </summary>
public sealed class LandedEvents
{
    private readonly Dictionary<int, int> _extraCopies = [];

    public RangeSet Distinct { get; } = new();

    /// <summary>Event number to its copies beyond the first.</summary>
    public IReadOnlyDictionary<int, int> ExtraCopies => _extraCopies;

    /// <summary>Counts one copy of event <paramref name="n"/>; returns the copies so far (1 the first time).</summary>
    public int Add(int n)
    {
        if (Distinct.Add(n))
        {
            return 1;
        }

        _extraCopies[n] = _extraCopies.GetValueOrDefault(n) + 1;
        return _extraCopies[n] + 1;
    }
}

/// <summary>
/// One partition over a run: the high watermarks at its start and end (the run's records lie
/// between), the low watermark at the end (past the start: the broker's retention dropped records
/// of the run), and what a consumer read in between.
/// </summary>
public sealed class PartitionTally(int partition, long startOffset)
{
    public int Partition { get; } = partition;

    /// <summary>High watermark when the run started.</summary>
    public long StartOffset { get; } = startOffset;

    /// <summary>High watermark when the run ended (read after the last ack).</summary>
    public long EndOffset { get; set; } = -1;

    /// <summary>Low watermark when the run ended.</summary>
    public long LowAtEnd { get; set; } = -1;

    /// <summary>Records of the run read (duplicates included).</summary>
    public long RunRecords { get; set; }

    /// <summary>Records read between the watermarks that are not events of the run.</summary>
    public long OtherRecords { get; set; }

    public long FirstOffset { get; set; } = -1;

    public long LastOffset { get; set; } = -1;

    /// <summary>Counts one record read at <paramref name="offset"/>.</summary>
    public void Read(long offset, bool ofTheRun)
    {
        if (ofTheRun)
        {
            RunRecords++;
            if (FirstOffset < 0)
            {
                FirstOffset = offset;
            }

            LastOffset = offset;
        }
        else
        {
            OtherRecords++;
        }
    }
}
