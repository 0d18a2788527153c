using System.Net;
using System.Net.Sockets;
using System.Text;
using Ingest.LoadTest.Cli;
using Ingest.LoadTest.Engine;

namespace Ingest.UnitTests.LoadTest;

public sealed class SourceAddressesTests
{
    [Fact]
    public void ParseList_RangesAndSingleAddresses_InOrder()
    {
        var addresses = SourceAddresses.ParseList("127.0.0.1, 127.0.0.10-127.0.0.12,127.0.1.255-127.0.2.0");

        Assert.Equal(["127.0.0.1", "127.0.0.10", "127.0.0.11", "127.0.0.12", "127.0.1.255", "127.0.2.0"], addresses.Select(a => a.ToString()));
    }

    [Theory]
    [InlineData("")]
    [InlineData("127.0.0.5-127.0.0.2")]
    [InlineData("127.0.0.1-127.0.1.1")]
    [InlineData("localhost")]
    [InlineData("::1-::2")]
    public void ParseList_NotAListOfAddresses_Throws(string text) =>
        Assert.Throws<FormatException>(() => SourceAddresses.ParseList(text));

    [Fact]
    public void LoopbackFor_OneAddressPer20000Connections()
    {
        Assert.Equal(["127.0.0.1"], SourceAddresses.LoopbackFor(19_000).Select(a => a.ToString()));
        Assert.Equal(["127.0.0.1", "127.0.0.2", "127.0.0.3"], SourceAddresses.LoopbackFor(40_001).Select(a => a.ToString()));
    }

    [Fact]
    public void IdleBench_SourceAddresses_ParsedByTheCommandLine()
    {
        var parse = LoadTestCommand.Create().Parse(["idle-bench", "--connections", "100", "--source-addresses", "127.0.0.2-127.0.0.3"]);

        Assert.Empty(parse.Errors);
        Assert.Equal(["127.0.0.2", "127.0.0.3"], parse.GetValue<IReadOnlyList<IPAddress>?>("--source-addresses")!.Select(a => a.ToString()));
    }

    [Fact]
    public void IdleBench_BadSourceAddresses_IsAnErrorNamingTheOption()
    {
        var parse = LoadTestCommand.Create().Parse(["idle-bench", "--source-addresses", "127.0.0.9-127.0.0.2"]);

        var error = Assert.Single(parse.Errors);
        Assert.Contains("--source-addresses", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Next_ConnectsFromEachAddressInTurn()
    {
        var token = TestContext.Current.CancellationToken;
        using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen();
        var uri = new Uri($"http://127.0.0.1:{((IPEndPoint)listener.LocalEndPoint!).Port}/");
        using var sources = SourceAddresses.Create(SourceAddresses.ParseList("127.0.0.2-127.0.0.3"));

        var peers = new List<string>();
        for (var i = 0; i < 3; i++)
        {
            var accepted = AnswerOneRequestAsync(listener, token);
            using var response = await sources.Next().SendAsync(new HttpRequestMessage(HttpMethod.Get, uri), token);
            Assert.Equal(HttpStatusCode.NoContent, response.StatusCode);
            peers.Add(await accepted);
        }

        Assert.Equal(["127.0.0.2", "127.0.0.3", "127.0.0.2"], peers);
    }

    [Fact]
    public void DescriptorLimit_RaisedToTheHardLimit_AndDescriptorsCounted()
    {
        var (soft, hard) = DescriptorLimit.RaiseSoftToHard();

        Assert.Equal(hard, soft);
        Assert.True(DescriptorLimit.OpenNow() > 0);
        Assert.Equal(-1, DescriptorLimit.OpenBy(int.MaxValue));
    }

    /// <summary>Answers one HTTP request with 204 and closes; returns the peer's address.</summary>
    private static async Task<string> AnswerOneRequestAsync(Socket listener, CancellationToken token)
    {
        using var socket = await listener.AcceptAsync(token);
        var peer = ((IPEndPoint)socket.RemoteEndPoint!).Address.ToString();
        var request = new StringBuilder();
        var buffer = new byte[1024];
        while (!request.ToString().Contains("\r\n\r\n", StringComparison.Ordinal))
        {
            var read = await socket.ReceiveAsync(buffer, token);
            Assert.True(read > 0, "the client closed before its request was complete");
            request.Append(Encoding.ASCII.GetString(buffer, 0, read));
        }

        await socket.SendAsync("HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n"u8.ToArray(), token);
        socket.Shutdown(SocketShutdown.Both);
        return peer;
    }
}
