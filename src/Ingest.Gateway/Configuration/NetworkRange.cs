using System.Net;

namespace Ingest.Gateway.Configuration;

/// <summary>An IP address or a CIDR range as configuration writes it (<c>10.1.2.3</c>, <c>10.0.0.0/8</c>, <c>::1</c>).</summary>
internal static class NetworkRange
{
    public static bool TryParse(string text, out IPNetwork network)
    {
        if (text.Contains('/', StringComparison.Ordinal))
        {
            return IPNetwork.TryParse(text, out network);
        }

        if (IPAddress.TryParse(text, out var address))
        {
            network = new IPNetwork(address, address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork ? 32 : 128);
            return true;
        }

        network = default;
        return false;
    }
}
