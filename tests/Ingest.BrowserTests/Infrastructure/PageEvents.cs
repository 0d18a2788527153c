using System.Text.Json;
using Ingest.Testing;

namespace Ingest.BrowserTests.Infrastructure;

/// <summary>Reads back from Kafka what a page or a test client sent, by its clientId.</summary>
internal static class PageEvents
{
    /// <summary>
    /// The <c>seq</c> of every record keyed <paramref name="clientId"/>, in topic order per
    /// partition (one clientId lands in one partition), duplicates included.
    /// </summary>
    public static List<long> ReadSeqs(TestGateway gateway, string clientId, int expected) =>
        ReadSeqs(gateway.Kafka.BootstrapServers, gateway.Topic, clientId, expected);

    public static List<long> ReadSeqs(string bootstrapServers, string topic, string clientId, int expected)
    {
        var seqs = new List<long>();
        foreach (var record in TopicReader.ReadAll(bootstrapServers, topic, expected).Where(r => r.Key == clientId).OrderBy(r => r.Offset))
        {
            using var value = JsonDocument.Parse(record.Value);
            seqs.Add(value.RootElement.GetProperty("seq").GetInt64());
        }

        return seqs;
    }
}
