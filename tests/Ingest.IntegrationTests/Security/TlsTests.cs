using System.Net.WebSockets;
using Ingest.Testing;

namespace Ingest.IntegrationTests.Security;

/// <summary>TLS as docs/operations.md configures it: a PEM certificate on a Kestrel endpoint, clients on wss://.</summary>
public sealed class TlsTests
{
    [Fact]
    public async Task HttpsEndpoint_WithAPemCertificate_WssClientThatTrustsIt_GetsAnAck_OthersCannotConnect()
    {
        using var certificate = TestCertificate.Create();
        await using var gateway = await TestGateway.StartAsync(certificate.HttpsEndpoint);

        Assert.Equal("wss", gateway.WebSocketUri.Scheme);
        Assert.Equal("127.0.0.1", gateway.WebSocketUri.Host);
        await using (var client = await TestClient.ConnectAsync(gateway.WebSocketUri, o => o.RemoteCertificateValidationCallback = (_, presented, _, _) => certificate.Accepts(presented)))
        {
            await client.SendAndWaitAckAsync("{\"msg\":\"over tls\",\"clientId\":\"c\",\"timestamp\":1}");
        }

        // A client with the system's trust store refuses a self-signed certificate: the connection is TLS.
        await Assert.ThrowsAsync<WebSocketException>(() => TestClient.ConnectAsync(gateway.WebSocketUri));
        var record = Assert.Single(TopicReader.ReadAll(gateway.Kafka.BootstrapServers, gateway.Topic, 1));
        Assert.Equal("{\"msg\":\"over tls\",\"clientId\":\"c\",\"timestamp\":1}", record.Text);
    }
}
