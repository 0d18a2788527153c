using Ingest.Kafka.Discovery;

namespace Ingest.UnitTests.Kafka;

public sealed class DevEnvironmentFileTests : IDisposable
{
    private readonly string _path = Path.Combine(Path.GetTempPath(), $"ingest-dev-{Guid.NewGuid():N}.json");

    [Fact]
    public void WriteThenRead_RoundTripsEveryField()
    {
        var written = new DevEnvironment("127.0.0.1:1,127.0.0.1:2", Environment.ProcessId, DateTimeOffset.UnixEpoch, "events", "events.dlq", ["http://127.0.0.1:5080"]);
        DevEnvironmentFile.Write(written, _path);

        var read = DevEnvironmentFile.TryRead(_path);

        Assert.NotNull(read);
        Assert.Equal(written.BootstrapServers, read.BootstrapServers);
        Assert.Equal(written.Topic, read.Topic);
        Assert.Equal(written.DeadLetterTopic, read.DeadLetterTopic);
        Assert.Equal(written.GatewayUrls, read.GatewayUrls);
    }

    [Fact]
    public void TryRead_FileOfExitedProcess_IsStale()
    {
        using var exited = System.Diagnostics.Process.Start("true");
        exited.WaitForExit();
        DevEnvironmentFile.Write(new DevEnvironment("127.0.0.1:1", exited.Id, DateTimeOffset.UtcNow, "events", null, []), _path);

        Assert.Null(DevEnvironmentFile.TryRead(_path));
    }

    [Fact]
    public void TryRead_MissingOrBrokenFile_IsNull()
    {
        Assert.Null(DevEnvironmentFile.TryRead(_path));
        File.WriteAllText(_path, "{ not json");
        Assert.Null(DevEnvironmentFile.TryRead(_path));
    }

    [Fact]
    public void DeleteIfOwned_LeavesAnotherProcessesFile()
    {
        DevEnvironmentFile.Write(new DevEnvironment("127.0.0.1:1", Environment.ProcessId + 1_000_000, DateTimeOffset.UtcNow, "events", null, []), _path);
        DevEnvironmentFile.DeleteIfOwned(_path);
        Assert.True(File.Exists(_path));

        DevEnvironmentFile.Write(new DevEnvironment("127.0.0.1:1", Environment.ProcessId, DateTimeOffset.UtcNow, "events", null, []), _path);
        DevEnvironmentFile.DeleteIfOwned(_path);
        Assert.False(File.Exists(_path));
    }

    public void Dispose() => File.Delete(_path);
}
