using System.Diagnostics;
using System.Globalization;
using Confluent.Kafka;
using Ingest.Kafka;
using Ingest.Kafka.Embedded;
using Ingest.Kafka.Native;

namespace Ingest.IntegrationTests.Kafka;

/// <summary>
/// The embedded broker's own P/Invoke binds the librdkafka file Confluent.Kafka loaded: on Debian
/// that is the package's <c>centos8-librdkafka.so</c>, as its default binary needs libsasl2.so.3.
/// </summary>
public sealed class LibrdkafkaBindingTests
{
    [Fact]
    public void EmbeddedBrokerAndConfluentKafka_ShareOneLoadedFile_AndReportTheSameVersion()
    {
        using var cluster = EmbeddedKafkaCluster.Start(brokerCount: 1);
        cluster.CreateTopic("binding", partitions: 1);
        using (var producer = new ProducerBuilder<string, string>(KafkaClientDefaults.IdempotentProducer(cluster.BootstrapServers)).Build())
        {
            producer.Produce("binding", new Message<string, string> { Key = "k", Value = "v" });
            Assert.Equal(0, producer.Flush(TimeSpan.FromSeconds(30)));
        }

        // One file in the memory map: no second copy was loaded by either side.
        var mapped = Assert.Single(LibrdkafkaLibrary.MappedFiles());
        Assert.Equal(mapped, LibrdkafkaLibrary.Loaded.Path);
        Assert.StartsWith(AppContext.BaseDirectory, mapped, StringComparison.Ordinal);

        // The mock API the broker calls lies inside that file's mapping.
        var export = System.Runtime.InteropServices.NativeLibrary.GetExport(LibrdkafkaLibrary.Loaded.Handle, "rd_kafka_mock_cluster_new");
        Assert.Contains(MappedRanges(mapped), range => export >= range.Start && export < range.End);

        // The same version through both bindings.
        Assert.Equal(Library.VersionString, EmbeddedKafkaCluster.BoundLibraryVersion);
        Assert.Equal(Library.VersionString, LibrdkafkaLibrary.Loaded.Version);
    }

    [Fact]
    public async Task CheckCommand_WhenNoCandidateLoads_ExitsWithOneLineNamingTheFileTried()
    {
        // A copy of the gateway whose only librdkafka file is not a shared object at all.
        var app = Directory.CreateTempSubdirectory("ingest-nolib-");
        try
        {
            foreach (var file in Directory.EnumerateFiles(AppContext.BaseDirectory))
            {
                File.Copy(file, Path.Combine(app.FullName, Path.GetFileName(file)));
            }

            var native = Directory.CreateDirectory(Path.Combine(app.FullName, "runtimes", "linux-x64", "native"));
            var fake = Path.Combine(native.FullName, "librdkafka.so");
            await File.WriteAllTextAsync(fake, "not a shared object", TestContext.Current.CancellationToken);

            var (exitCode, stdout, stderr) = await RunAsync(app.FullName, "Ingest.Gateway.dll", "--check-librdkafka");

            Assert.Equal(3, exitCode);
            Assert.Equal("", stdout);
            var line = Assert.Single(stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
            Assert.StartsWith("librdkafka could not be loaded: tried ", line, StringComparison.Ordinal);
            Assert.Contains(fake, line, StringComparison.Ordinal);
            Assert.Contains("scripts/setup.sh", line, StringComparison.Ordinal);
            Assert.DoesNotContain("   at ", line, StringComparison.Ordinal);
        }
        finally
        {
            app.Delete(recursive: true);
        }
    }

    [Fact]
    public async Task CheckCommand_PrintsTheVersionAndTheFileItLoaded()
    {
        var (exitCode, stdout, stderr) = await RunAsync(AppContext.BaseDirectory, "Ingest.Gateway.dll", "--check-librdkafka");

        Assert.Equal(0, exitCode);
        Assert.Equal("", stderr);
        Assert.StartsWith($"librdkafka {Library.VersionString} loaded from {Path.Combine(AppContext.BaseDirectory, "runtimes", "linux-x64", "native")}", stdout, StringComparison.Ordinal);
        Assert.EndsWith("; embedded broker OK\n", stdout, StringComparison.Ordinal);
    }

    private static IEnumerable<(nint Start, nint End)> MappedRanges(string file)
    {
        foreach (var line in File.ReadLines("/proc/self/maps"))
        {
            if (!line.EndsWith(file, StringComparison.Ordinal))
            {
                continue;
            }

            var range = line[..line.IndexOf(' ', StringComparison.Ordinal)].Split('-');
            yield return ((nint)long.Parse(range[0], NumberStyles.HexNumber, CultureInfo.InvariantCulture),
                (nint)long.Parse(range[1], NumberStyles.HexNumber, CultureInfo.InvariantCulture));
        }
    }

    private static async Task<(int ExitCode, string Stdout, string Stderr)> RunAsync(string directory, params string[] arguments)
    {
        var start = new ProcessStartInfo("dotnet")
        {
            WorkingDirectory = directory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        start.ArgumentList.Add(Path.Combine(directory, arguments[0]));
        foreach (var argument in arguments.Skip(1))
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start)!;
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        timeout.CancelAfter(TimeSpan.FromSeconds(60));
        var stdout = process.StandardOutput.ReadToEndAsync(timeout.Token);
        var stderr = process.StandardError.ReadToEndAsync(timeout.Token);
        await process.WaitForExitAsync(timeout.Token);
        return (process.ExitCode, await stdout, await stderr);
    }
}
