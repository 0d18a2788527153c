using System.Globalization;
using System.Text.Json;
using Confluent.Kafka;
using Ingest.Contracts;
using Ingest.Kafka.Discovery;
using Ingest.Listener;
using Ingest.Listener.Cli;
using Ingest.Listener.Consuming;

namespace Ingest.IntegrationTests.Listener;

/// <summary>
/// The listener against the embedded broker over TCP: records shaped like the gateway's are
/// produced with Confluent.Kafka, and the listener runs in-process from its command line.
/// </summary>
public sealed class ListenerTests : IClassFixture<ListenerFixture>
{
    /// <summary>Safety bound on every run that should end by itself well before it.</summary>
    private const string Bound = "30";

    private readonly ListenerFixture _kafka;

    public ListenerTests(ListenerFixture kafka) => _kafka = kafka;

    private static CancellationToken Token => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Count_Reached_ExitsZeroAndPrintsTheCount()
    {
        var topic = _kafka.NewTopic(partitions: 4);
        _kafka.Produce(topic, ListenerFixture.Events(500));

        var result = await Run("--topic", topic, "--from-beginning", "--count", "500", "--timeout", Bound);

        Assert.Equal(ExitCodes.Success, result.ExitCode);
        Assert.Equal(500, result.Lines.Length);
        Assert.Contains("500 of 500 events", result.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Count_NotReachedBeforeTimeout_ExitsOneAndPrintsTheCount()
    {
        var topic = _kafka.NewTopic(partitions: 2);
        _kafka.Produce(topic, ListenerFixture.Events(3));

        var result = await Run("--topic", topic, "--from-beginning", "--count", "5", "--timeout", "2", "--quiet");

        Assert.Equal(ExitCodes.CountNotReached, result.ExitCode);
        Assert.Contains("3 of 5 events (timed out after 2 s)", result.Error, StringComparison.Ordinal);
        Assert.Empty(result.Output);
    }

    [Fact]
    public async Task Verify_CleanSet_ExitsZeroWithCountsPerClientId()
    {
        var topic = _kafka.NewTopic(partitions: 4);
        _kafka.Produce(topic, ListenerFixture.Events(300, clients: 3));

        var result = await Run("--topic", topic, "--from-beginning", "--count", "300", "--timeout", Bound, "--quiet", "--verify");

        Assert.Equal(ExitCodes.Success, result.ExitCode);
        Assert.Contains("verify: PASSED", result.Error, StringComparison.Ordinal);
        Assert.Contains("distinct:     300", result.Error, StringComparison.Ordinal);
        Assert.Contains("duplicates:   0", result.Error, StringComparison.Ordinal);
        Assert.Contains("       100  \"client 0\"", result.Error, StringComparison.Ordinal);
        Assert.Contains("       100  \"client 2\"", result.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Verify_PlantedDuplicate_ExitsTwo()
    {
        var topic = _kafka.NewTopic(partitions: 4);
        var events = ListenerFixture.Events(100).ToList();
        events.Insert(60, ListenerFixture.Event("client 7", 7, 1456862575765 + 7));
        _kafka.Produce(topic, events);

        var result = await Run("--topic", topic, "--from-beginning", "--count", "101", "--timeout", Bound, "--quiet", "--verify");

        Assert.Equal(ExitCodes.VerificationFailed, result.ExitCode);
        Assert.Contains("verify: FAILED", result.Error, StringComparison.Ordinal);
        Assert.Contains("distinct:     100", result.Error, StringComparison.Ordinal);
        Assert.Contains("duplicates:   1", result.Error, StringComparison.Ordinal);
        Assert.Contains("out of order: 0", result.Error, StringComparison.Ordinal);
        Assert.Contains("msg number 7", result.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Verify_PlantedReorder_ExitsTwo()
    {
        var topic = _kafka.NewTopic(partitions: 4);
        var events = ListenerFixture.Events(100).ToList();
        // Same clientId, so same partition, in this order: 2000 lands after 3000.
        events.Add(ListenerFixture.Event("client x", 1, 1000));
        events.Add(ListenerFixture.Event("client x", 3, 3000));
        events.Add(ListenerFixture.Event("client x", 2, 2000));
        _kafka.Produce(topic, events);

        var result = await Run("--topic", topic, "--from-beginning", "--count", "103", "--timeout", Bound, "--quiet", "--verify");

        Assert.Equal(ExitCodes.VerificationFailed, result.ExitCode);
        Assert.Contains("duplicates:   0", result.Error, StringComparison.Ordinal);
        Assert.Contains("out of order: 1", result.Error, StringComparison.Ordinal);
        Assert.Contains("clientId \"client x\" timestamp 2000 after 3000", result.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task DeadLetter_DefaultTopic_ShowsEachRejectedMessageWithItsErrorHeaders()
    {
        // --dlq without --topic reads events.dlq: a cluster of its own, so the name is free.
        using var cluster = Ingest.Kafka.Embedded.EmbeddedKafkaCluster.Start(brokerCount: 1);
        cluster.CreateTopic("events.dlq", partitions: 1);
        using (var producer = new ProducerBuilder<string?, string>(Ingest.Kafka.KafkaClientDefaults.IdempotentProducer(cluster.BootstrapServers)).Build())
        {
            producer.Produce("events.dlq", ListenerFixture.DeadLetter("{not json", ErrorCodes.InvalidJson, "'n' is an invalid start of a property name"));
            producer.Produce("events.dlq", ListenerFixture.DeadLetter("[1,2]", ErrorCodes.InvalidEvent, "element 0 is not an object"));
            Assert.Equal(0, producer.Flush(TimeSpan.FromSeconds(30)));
        }

        var result = await ListenerFixture.RunAsync(["--bootstrap", cluster.BootstrapServers, "--dlq", "--from-beginning", "--count", "2", "--timeout", Bound], Token);

        Assert.Equal(ExitCodes.Success, result.ExitCode);
        Assert.Equal(2, result.Lines.Length);
        Assert.Contains(" 0/0 ingest-error=invalid_json ingest-error-detail=\"'n' is an invalid start of a property name\" value=\"{not json\" ingest-received-at=1700000000123 ingest-connection=conn-7 ingest-gateway=gw-test", result.Lines[0], StringComparison.Ordinal);
        Assert.Contains(" 0/1 ingest-error=invalid_event ingest-error-detail=\"element 0 is not an object\" value=[1,2] ", result.Lines[1], StringComparison.Ordinal);
    }

    [Fact]
    public async Task DeadLetter_JsonFormat_CarriesTheErrorHeadersAndTheRawMessage()
    {
        var topic = _kafka.NewTopic(partitions: 1, prefix: "dlq");
        _kafka.Produce(topic, [ListenerFixture.DeadLetter("{not json", ErrorCodes.InvalidJson, "bad")]);

        var result = await Run("--topic", topic, "--dlq", "--format", "json", "--from-beginning", "--count", "1", "--timeout", Bound);

        Assert.Equal(ExitCodes.Success, result.ExitCode);
        using var line = JsonDocument.Parse(Assert.Single(result.Lines));
        var headers = line.RootElement.GetProperty("headers");
        Assert.Equal(ErrorCodes.InvalidJson, headers.GetProperty(IngestHeaders.Error).GetString());
        Assert.Equal("bad", headers.GetProperty(IngestHeaders.ErrorDetail).GetString());
        Assert.Equal("{not json", line.RootElement.GetProperty("value").GetString());
    }

    [Fact]
    public async Task Format_Text_PrintsTimePartitionOffsetClientIdMsgAndTimestamp()
    {
        var topic = _kafka.NewTopic(partitions: 1);
        _kafka.Produce(topic, [ListenerFixture.Event("client 1", 1, 1456862575765)]);

        var result = await Run("--topic", topic, "--from-beginning", "--count", "1", "--timeout", Bound);

        Assert.Matches(
            @"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z 0/0 clientId=""client 1"" msg=""msg number 1"" timestamp=1456862575765$",
            Assert.Single(result.Lines));
    }

    [Fact]
    public async Task Format_TextWithHeaders_AppendsTheIngestHeaders()
    {
        var topic = _kafka.NewTopic(partitions: 1);
        _kafka.Produce(topic, [ListenerFixture.Event("client 1", 1, 1456862575765)]);

        var result = await Run("--topic", topic, "--from-beginning", "--count", "1", "--timeout", Bound, "--headers");

        Assert.EndsWith(
            "timestamp=1456862575765 ingest-received-at=1700000000123 ingest-connection=conn-7 ingest-gateway=gw-test",
            Assert.Single(result.Lines),
            StringComparison.Ordinal);
    }

    [Fact]
    public async Task Format_Json_PrintsTheRawValue()
    {
        var topic = _kafka.NewTopic(partitions: 1);
        var sent = ListenerFixture.Events(3).ToList();
        _kafka.Produce(topic, sent);

        var result = await Run("--topic", topic, "--from-beginning", "--count", "3", "--timeout", Bound, "--format", "json");

        Assert.Equal(sent.Select(m => m.Value), result.Lines);
    }

    [Fact]
    public async Task Format_JsonWithHeaders_WrapsTheRawValueWithPartitionOffsetKeyAndHeaders()
    {
        var topic = _kafka.NewTopic(partitions: 1);
        var sent = ListenerFixture.Event("client 1", 1, 1456862575765);
        _kafka.Produce(topic, [sent]);

        var result = await Run("--topic", topic, "--from-beginning", "--count", "1", "--timeout", Bound, "--format", "json", "--headers");

        using var line = JsonDocument.Parse(Assert.Single(result.Lines));
        var root = line.RootElement;
        Assert.Equal(0, root.GetProperty("partition").GetInt32());
        Assert.Equal(0, root.GetProperty("offset").GetInt64());
        Assert.Equal("client 1", root.GetProperty("key").GetString());
        Assert.Equal(ListenerFixture.ReceivedAt, root.GetProperty("headers").GetProperty(IngestHeaders.ReceivedAt).GetString());
        Assert.Equal(ListenerFixture.Connection, root.GetProperty("headers").GetProperty(IngestHeaders.Connection).GetString());
        Assert.Equal(ListenerFixture.Gateway, root.GetProperty("headers").GetProperty(IngestHeaders.Gateway).GetString());
        Assert.Equal(sent.Value, root.GetProperty("value").GetRawText());
    }

    [Fact]
    public async Task Discovery_NoFlags_ReadsTheDiscoveredBrokerAndTopic()
    {
        var topic = _kafka.NewTopic(partitions: 2);
        _kafka.Produce(topic, ListenerFixture.Events(20));
        var environment = new DevEnvironment(_kafka.BootstrapServers, Environment.ProcessId, DateTimeOffset.UtcNow, topic, null, []);

        var result = await ListenerFixture.RunAsync(["--from-beginning", "--count", "20", "--timeout", Bound, "--quiet"], Token, discover: () => environment);

        Assert.Equal(ExitCodes.Success, result.ExitCode);
        Assert.Contains("20 of 20 events", result.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task FromEnd_ByDefault_SeesOnlyEventsProducedAfterItStarted()
    {
        var topic = _kafka.NewTopic(partitions: 2);
        _kafka.Produce(topic, ListenerFixture.Events(50));
        var assigned = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var hooks = new ListenerHooks { PartitionsAssigned = _ => assigned.TrySetResult() };

        var run = Run(hooks, "--topic", topic, "--count", "5", "--timeout", Bound, "--format", "json");
        await assigned.Task.WaitAsync(TimeSpan.FromSeconds(30), Token);
        var later = ListenerFixture.Events(5, first: 1000).ToList();
        _kafka.Produce(topic, later);
        var result = await run;

        Assert.Equal(ExitCodes.Success, result.ExitCode);
        Assert.Equal(later.Select(m => m.Value).Order(), result.Lines.Order());
    }

    [Fact]
    public async Task Group_SecondRun_ResumesFromTheCommittedOffset()
    {
        var topic = _kafka.NewTopic(partitions: 2);
        var group = $"resume-{Guid.NewGuid():N}";
        var first = ListenerFixture.Events(40).ToList();
        _kafka.Produce(topic, first);

        var run1 = await Run("--topic", topic, "--group", group, "--from-beginning", "--count", "40", "--timeout", Bound, "--format", "json");
        var second = ListenerFixture.Events(10, first: 1000).ToList();
        _kafka.Produce(topic, second);
        var run2 = await Run("--topic", topic, "--group", group, "--from-beginning", "--count", "10", "--timeout", Bound, "--format", "json");

        Assert.True(run1.ExitCode == ExitCodes.Success, run1.Error);
        Assert.Equal(first.Select(m => m.Value).Order(), run1.Lines.Order());
        Assert.True(run2.ExitCode == ExitCodes.Success, run2.Error);
        Assert.Equal(second.Select(m => m.Value).Order(), run2.Lines.Order());
    }

    [Fact]
    public async Task Group_TwoListeners_SplitThePartitionsAndTogetherSeeEveryEventOnce()
    {
        const int partitions = 4;
        const int count = 2_000;
        var topic = _kafka.NewTopic(partitions);
        var group = $"split-{Guid.NewGuid():N}";
        var gate = new Lock();
        var assignedCounts = new int[2];
        var split = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        long handled = 0;
        var allSeen = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(Token);

        ListenerHooks Hooks(int listener) => new()
        {
            PartitionsAssigned = p => Assign(listener, p.Count),
            PartitionsRevoked = _ => Assign(listener, 0),
            EventHandled = _ =>
            {
                if (Interlocked.Increment(ref handled) == count)
                {
                    allSeen.TrySetResult();
                }
            },
        };

        void Assign(int listener, int partitionCount)
        {
            lock (gate)
            {
                assignedCounts[listener] = partitionCount;
                if (assignedCounts[0] > 0 && assignedCounts[1] > 0 && assignedCounts.Sum() == partitions)
                {
                    split.TrySetResult();
                }
            }
        }

        string[] args = ["--bootstrap", _kafka.BootstrapServers, "--topic", topic, "--group", group, "--from-beginning", "--format", "json", "--headers"];
        var listeners = new[]
        {
            ListenerFixture.RunAsync(args, stop.Token, Hooks(0)),
            ListenerFixture.RunAsync(args, stop.Token, Hooks(1)),
        };
        await split.Task.WaitAsync(TimeSpan.FromSeconds(30), Token);
        var sent = ListenerFixture.Events(count, clients: 50).ToList();
        _kafka.Produce(topic, sent);
        await allSeen.Task.WaitAsync(TimeSpan.FromSeconds(30), Token);
        await stop.CancelAsync();
        var results = await Task.WhenAll(listeners);

        Assert.All(results, r => Assert.Equal(ExitCodes.Success, r.ExitCode));
        var seen = results.Select(r => r.Lines.Select(ParseEnvelope).ToList()).ToList();
        Assert.All(seen, s => Assert.NotEmpty(s));
        var partitionsOf = seen.Select(s => s.Select(e => e.Partition).ToHashSet()).ToList();
        Assert.Empty(partitionsOf[0].Intersect(partitionsOf[1]));
        Assert.Equal(Enumerable.Range(0, partitions), partitionsOf[0].Union(partitionsOf[1]).Order());
        var values = seen.SelectMany(s => s.Select(e => e.Value)).ToList();
        Assert.Equal(count, values.Count);
        Assert.Equal(sent.Select(m => m.Value).Order(), values.Order());
    }

    [Fact]
    public async Task Lag_JsonFormat_TheFinalStatusCarriesWhatIsLeftInEachPartition()
    {
        const int partitions = 4, produced = 1_000, consumed = 400;
        var topic = _kafka.NewTopic(partitions);
        _kafka.Produce(topic, ListenerFixture.Events(produced, clients: 50));
        var high = _kafka.HighWatermarks(topic, partitions);

        var result = await Run("--topic", topic, "--from-beginning", "--count", $"{consumed}", "--timeout", Bound, "--format", "json", "--headers");

        Assert.Equal(ExitCodes.Success, result.ExitCode);
        var read = result.Lines.Select(ParseEnvelope).GroupBy(e => e.Partition).ToDictionary(g => g.Key, g => (long)g.Count());
        using var final = JsonDocument.Parse(Assert.Single(StatusLines(result), s => s.Contains("\"final\":true", StringComparison.Ordinal)));
        var status = final.RootElement;
        Assert.Equal("status", status.GetProperty("type").GetString());
        Assert.Equal(consumed, status.GetProperty("total").GetInt64());
        Assert.Equal(produced - consumed, status.GetProperty("lag").GetInt64());
        var reported = status.GetProperty("partitions").EnumerateArray().ToList();
        Assert.Equal(Enumerable.Range(0, partitions), reported.Select(p => p.GetProperty("partition").GetInt32()));
        foreach (var partition in reported)
        {
            var number = partition.GetProperty("partition").GetInt32();
            var done = read.GetValueOrDefault(number);
            Assert.Equal(high[number], partition.GetProperty("highWatermark").GetInt64());
            Assert.Equal(done, partition.GetProperty("position").GetInt64());
            Assert.Equal(high[number] - done, partition.GetProperty("lag").GetInt64());
        }
    }

    [Fact]
    public async Task Lag_NamedGroup_CountsFromTheCommittedOffsetInPartitionsNotReadYet()
    {
        const int partitions = 4, produced = 800;
        var topic = _kafka.NewTopic(partitions);
        var group = $"lag-{Guid.NewGuid():N}";
        _kafka.Produce(topic, ListenerFixture.Events(produced, clients: 50));
        var high = _kafka.HighWatermarks(topic, partitions);

        var first = await Run("--topic", topic, "--group", group, "--from-beginning", "--count", "300", "--timeout", Bound, "--format", "json", "--headers");
        var second = await Run("--topic", topic, "--group", group, "--from-beginning", "--count", "1", "--timeout", Bound, "--format", "json", "--headers");

        Assert.Equal(ExitCodes.Success, first.ExitCode);
        Assert.Equal(ExitCodes.Success, second.ExitCode);
        // The second run resumed where the first one's commit left each partition.
        var read = first.Lines.Concat(second.Lines).Select(ParseEnvelope).GroupBy(e => e.Partition).ToDictionary(g => g.Key, g => (long)g.Count());
        using var final = JsonDocument.Parse(Assert.Single(StatusLines(second), s => s.Contains("\"final\":true", StringComparison.Ordinal)));
        Assert.Equal(produced - 301, final.RootElement.GetProperty("lag").GetInt64());
        foreach (var partition in final.RootElement.GetProperty("partitions").EnumerateArray())
        {
            var number = partition.GetProperty("partition").GetInt32();
            Assert.Equal(high[number] - read.GetValueOrDefault(number), partition.GetProperty("lag").GetInt64());
        }
    }

    [Fact]
    public async Task Lag_TextFormat_PrintsTheLagLeftPerPartitionAtExit()
    {
        const int partitions = 3, produced = 600, consumed = 250;
        var topic = _kafka.NewTopic(partitions);
        _kafka.Produce(topic, ListenerFixture.Events(produced, clients: 30));
        var high = _kafka.HighWatermarks(topic, partitions);

        var result = await Run("--topic", topic, "--from-beginning", "--count", $"{consumed}", "--timeout", Bound);

        Assert.Equal(ExitCodes.Success, result.ExitCode);
        var read = result.Lines.Select(line => int.Parse(line.Split(' ')[1].Split('/')[0], CultureInfo.InvariantCulture)).GroupBy(p => p).ToDictionary(g => g.Key, g => (long)g.Count());
        var expected = string.Join(' ', Enumerable.Range(0, partitions).Select(p => string.Create(CultureInfo.InvariantCulture, $"{p}:{high[p] - read.GetValueOrDefault(p):N0}")));
        Assert.Contains($"lag at exit {expected} (total {produced - consumed})", result.Error, StringComparison.Ordinal);
        Assert.DoesNotContain("\"type\":\"status\"", result.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Lag_WhileRunning_StatusReadsZeroLagAtTheHighWatermarkOnceCaughtUp()
    {
        const int partitions = 4, produced = 500;
        var topic = _kafka.NewTopic(partitions);
        _kafka.Produce(topic, ListenerFixture.Events(produced, clients: 50));
        var high = _kafka.HighWatermarks(topic, partitions);
        var caughtUp = new TaskCompletionSource<IReadOnlyList<PartitionLag>>(TaskCreationOptions.RunContinuationsAsynchronously);
        var handled = 0L;
        var hooks = new ListenerHooks
        {
            EventHandled = total => Volatile.Write(ref handled, total),
            StatusShown = lags =>
            {
                // The client's own values, read at the status rate: once every event was handled,
                // each partition's position reaches its high watermark.
                if (Volatile.Read(ref handled) == produced && lags.Count == partitions && lags.All(l => l.Lag == 0))
                {
                    caughtUp.TrySetResult(lags);
                }
            },
        };
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(Token);

        var run = ListenerFixture.RunAsync(["--bootstrap", _kafka.BootstrapServers, "--topic", topic, "--from-beginning", "--format", "json"], stop.Token, hooks);
        var lags = await caughtUp.Task.WaitAsync(TimeSpan.FromSeconds(30), Token);
        await stop.CancelAsync();
        var result = await run;

        Assert.Equal(ExitCodes.Success, result.ExitCode);
        Assert.All(lags, l => Assert.Equal(high[l.Partition], l.HighWatermark));
        Assert.All(lags, l => Assert.Equal(high[l.Partition], l.Position));
        // Every status went to stderr as a JSON line; stdout holds the events only.
        Assert.Equal(produced, result.Lines.Length);
        Assert.All(StatusLines(result), line => Assert.Equal("status", JsonDocument.Parse(line).RootElement.GetProperty("type").GetString()));
        Assert.Contains(StatusLines(result), line => line.Contains("\"final\":false", StringComparison.Ordinal) && line.Contains("\"lag\":0,", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Lag_QuietRun_PrintsNoStatus()
    {
        var topic = _kafka.NewTopic(partitions: 2);
        _kafka.Produce(topic, ListenerFixture.Events(20));

        var result = await Run("--topic", topic, "--from-beginning", "--count", "10", "--timeout", Bound, "--format", "json", "--quiet");

        Assert.Equal(ExitCodes.Success, result.ExitCode);
        Assert.Empty(StatusLines(result));
        Assert.DoesNotContain("lag at exit", result.Error, StringComparison.Ordinal);
    }

    private static List<string> StatusLines(ListenerResult result) =>
        result.Error.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Where(l => l.StartsWith('{')).ToList();

    private static (int Partition, string Value) ParseEnvelope(string line)
    {
        using var document = JsonDocument.Parse(line);
        return (document.RootElement.GetProperty("partition").GetInt32(), document.RootElement.GetProperty("value").GetRawText());
    }

    private Task<ListenerResult> Run(params string[] args) => Run(null, args);

    private Task<ListenerResult> Run(ListenerHooks? hooks, params string[] args) =>
        ListenerFixture.RunAsync(["--bootstrap", _kafka.BootstrapServers, .. args], Token, hooks);
}
