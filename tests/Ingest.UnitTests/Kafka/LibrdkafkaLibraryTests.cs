using Ingest.Kafka.Native;

namespace Ingest.UnitTests.Kafka;

public sealed class LibrdkafkaLibraryTests
{
    [Fact]
    public void DescribeLoadFailure_MissingSasl_NamesTheSonameAndAdvisesNoSymlink()
    {
        // The loader's message on Debian 12 for librdkafka.redist 2.15.1's default binary.
        const string message = "Unable to load shared library '/app/runtimes/linux-x64/native/librdkafka.so' or one of its dependencies. " +
            "In order to help diagnose loading problems, consider using a tool like strace. If you're using glibc, consider setting the LD_DEBUG environment variable: \n" +
            "libsasl2.so.3: cannot open shared object file: No such file or directory";

        var (reason, hint) = LibrdkafkaLibrary.DescribeLoadFailure(message);

        Assert.Equal("needs libsasl2.so.3, not found", reason);
        Assert.NotNull(hint);
        Assert.Contains("libsasl2.so.2", hint, StringComparison.Ordinal);
        Assert.Contains("rather than a symlink", hint, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("libssl.so.3", "apt-get install libssl3")]
    [InlineData("libcrypto.so.3", "apt-get install libssl3")]
    [InlineData("libzstd.so.1", "apt-get install libzstd1")]
    [InlineData("liblz4.so.1", "apt-get install liblz4-1")]
    [InlineData("libz.so.1", "apt-get install zlib1g")]
    [InlineData("libfoo.so.7", "install the package that provides libfoo.so.7 (apt-file search libfoo.so.7)")]
    public void DescribeLoadFailure_MissingDependency_SaysWhatToInstall(string soname, string expected)
    {
        var (reason, hint) = LibrdkafkaLibrary.DescribeLoadFailure($"Unable to load shared library 'x'.\n{soname}: cannot open shared object file: No such file or directory");

        Assert.Equal($"needs {soname}, not found", reason);
        Assert.Equal(expected, hint);
    }

    [Fact]
    public void DescribeLoadFailure_NotASharedObject_KeepsTheLoadersFirstLineAndGivesNoHint()
    {
        var (reason, hint) = LibrdkafkaLibrary.DescribeLoadFailure("/app/librdkafka.so: invalid ELF header\nmore");

        Assert.Equal("/app/librdkafka.so: invalid ELF header", reason);
        Assert.Null(hint);
    }
}
