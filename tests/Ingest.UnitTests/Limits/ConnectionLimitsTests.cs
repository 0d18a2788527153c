using Ingest.Gateway.Configuration;

namespace Ingest.UnitTests.Limits;

/// <summary>
/// <see cref="ConnectionLimits.For"/>: the connection limits derived from the descriptor limit, and
/// configured ones that cannot fit refused with the key to change.
/// </summary>
public sealed class ConnectionLimitsTests
{
    [Theory]
    // descriptors, total (less 384 reserved), WebSockets (less 512 HTTP and the 32 upgrade margin), HTTP
    [InlineData(1_024, 640, 96, 512)]
    [InlineData(20_000, 19_616, 19_072, 512)]
    public void Defaults_AreDerivedFromTheDescriptorLimit(long descriptors, int total, int webSockets, int http)
    {
        var limits = ConnectionLimits.For(new IngestOptions(), descriptors);

        Assert.Equal(new ConnectionLimits(descriptors, total, webSockets, http), limits);
        Assert.Equal(total, limits.WebSockets + ConnectionLimits.UpgradeMargin + limits.Http);
    }

    [Fact]
    public void ConfiguredLimitsThatFit_AreTakenAsGiven()
    {
        var options = new IngestOptions();
        options.Limits.MaxConnections = 700;
        options.Limits.ReservedDescriptors = 300;
        options.WebSocket.MaxConnections = 600;

        var limits = ConnectionLimits.For(options, 1_024);

        Assert.Equal(new ConnectionLimits(1_024, 700, 600, 68), limits);
    }

    [Fact]
    public void MaxConnections_BeyondTheDescriptorsLessTheReserve_NamesItsKey()
    {
        var options = new IngestOptions();
        options.Limits.MaxConnections = 641;

        var error = Assert.Throws<ConfigurationException>(() => ConnectionLimits.For(options, 1_024));

        Assert.StartsWith("Ingest:Limits:MaxConnections (641)", error.Message, StringComparison.Ordinal);
        Assert.Contains("at most 640", error.Message, StringComparison.Ordinal);
        options.Limits.MaxConnections = 640;
        Assert.Equal(640, ConnectionLimits.For(options, 1_024).Total);
    }

    [Fact]
    public void WebSocketMaxConnections_LeavingTooFewHttpConnections_NamesItsKey()
    {
        var options = new IngestOptions();
        options.Limits.MaxConnections = 1_000;
        options.WebSocket.MaxConnections = 1_000 - ConnectionLimits.UpgradeMargin - ConnectionLimits.MinimumHttp + 1;

        var error = Assert.Throws<ConfigurationException>(() => ConnectionLimits.For(options, 20_000));

        Assert.StartsWith("Ingest:WebSocket:MaxConnections (953)", error.Message, StringComparison.Ordinal);
        Assert.Contains("at most 952", error.Message, StringComparison.Ordinal);
        options.WebSocket.MaxConnections = 952;
        Assert.Equal(ConnectionLimits.MinimumHttp, ConnectionLimits.For(options, 20_000).Http);
    }

    [Fact]
    public void WebSocketMaxConnections_AboveTheDerivedTotal_NamesItsKey()
    {
        var options = new IngestOptions();
        options.WebSocket.MaxConnections = 5_000;

        var error = Assert.Throws<ConfigurationException>(() => ConnectionLimits.For(options, 1_024));

        Assert.StartsWith("Ingest:WebSocket:MaxConnections (5000)", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(767, 256)]
    [InlineData(1_024, 513)]
    public void ReservedDescriptors_LeavingFewerThanTheHttpConnections_NamesItsKey(long descriptors, int reserved)
    {
        var options = new IngestOptions();
        options.Limits.ReservedDescriptors = reserved;

        var error = Assert.Throws<ConfigurationException>(() => ConnectionLimits.For(options, descriptors));

        Assert.StartsWith($"Ingest:Limits:ReservedDescriptors ({reserved})", error.Message, StringComparison.Ordinal);
    }
}
