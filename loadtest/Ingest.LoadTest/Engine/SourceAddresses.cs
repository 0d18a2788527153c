using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace Ingest.LoadTest.Engine;

/// <summary>
/// Local addresses the load clients connect from, handed out round-robin as clients are created
/// (so client i uses address i mod n, and keeps it when it reconnects). One source address gives a
/// client process at most one connection per ephemeral port to a given server (about 28,000 on
/// Linux, <c>net.ipv4.ip_local_port_range</c>); every address of 127.0.0.0/8 is loopback, so
/// 127.0.0.2, 127.0.0.3, ... each bring another range. Each address has its own
/// <see cref="SocketsHttpHandler"/> whose connect callback binds the socket to that address
/// before connecting.
/// </summary>
internal sealed class SourceAddresses : IDisposable
{
    /// <summary>Linux's <c>IP_BIND_ADDRESS_NO_PORT</c> (at level <c>SOL_IP</c>).</summary>
    private const int IpBindAddressNoPort = 24;

    private readonly HttpMessageInvoker[] _invokers;
    private int _next = -1;

    private SourceAddresses(IReadOnlyList<IPAddress> addresses)
    {
        Addresses = addresses;
        _invokers = [.. addresses.Select(address => new HttpMessageInvoker(new SocketsHttpHandler
        {
            ConnectCallback = (context, token) => ConnectFromAsync(address, context.DnsEndPoint, token),
            UseProxy = false,
            UseCookies = false,
            AllowAutoRedirect = false,
        }))];
    }

    public IReadOnlyList<IPAddress> Addresses { get; }

    /// <summary>
    /// Parses a list of addresses and ranges, e.g. <c>127.0.0.2-127.0.0.5</c> or
    /// <c>127.0.0.1,127.0.0.10-127.0.0.12</c> (ranges of IPv4 addresses only, at most 256 long).
    /// </summary>
    /// <exception cref="FormatException">The text is not such a list.</exception>
    public static IReadOnlyList<IPAddress> ParseList(string text)
    {
        var addresses = new List<IPAddress>();
        foreach (var part in text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var dash = part.IndexOf('-', StringComparison.Ordinal);
            if (dash < 0)
            {
                addresses.Add(ParseAddress(part));
                continue;
            }

            var (first, last) = (ParseAddress(part[..dash].Trim()), ParseAddress(part[(dash + 1)..].Trim()));
            if (first.AddressFamily != AddressFamily.InterNetwork || last.AddressFamily != AddressFamily.InterNetwork)
            {
                throw new FormatException($"'{part}': ranges are of IPv4 addresses only");
            }

            var (from, to) = (ToNumber(first), ToNumber(last));
            if (to < from || to - from >= 256)
            {
                throw new FormatException($"'{part}': a range goes upwards and holds at most 256 addresses");
            }

            for (var n = from; n <= to; n++)
            {
                addresses.Add(new IPAddress(BitConverter.GetBytes(IPAddress.HostToNetworkOrder((int)n))));
            }
        }

        return addresses.Count == 0 ? throw new FormatException("no address given") : addresses;
    }

    /// <summary>Clients created with these addresses, round-robin; <paramref name="addresses"/> must be local to this machine.</summary>
    public static SourceAddresses Create(IReadOnlyList<IPAddress> addresses) =>
        addresses.Count == 0 ? throw new ArgumentException("At least one address is needed.", nameof(addresses)) : new SourceAddresses(addresses);

    /// <summary>The handler of the next address in turn, for one client's connections.</summary>
    public HttpMessageInvoker Next() => _invokers[(int)((uint)Interlocked.Increment(ref _next) % (uint)_invokers.Length)];

    public void Dispose()
    {
        foreach (var invoker in _invokers)
        {
            invoker.Dispose();
        }
    }

    public override string ToString() => string.Join(", ", Addresses);

    /// <summary>
    /// A TCP connection from <paramref name="source"/> (port chosen by the kernel) to
    /// <paramref name="target"/>. <c>IP_BIND_ADDRESS_NO_PORT</c> defers the port's choice to the
    /// connect, where the kernel only needs the whole 4-tuple to be free: a bind alone would take a
    /// port for this address whatever the destination, and ports still in TIME_WAIT from an
    /// earlier run would be lost to it.
    /// </summary>
    private static async ValueTask<Stream> ConnectFromAsync(IPAddress source, DnsEndPoint target, CancellationToken cancellationToken)
    {
        var socket = new Socket(source.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            if (OperatingSystem.IsLinux())
            {
                socket.SetRawSocketOption(0, IpBindAddressNoPort, BitConverter.GetBytes(1));
            }

            socket.Bind(new IPEndPoint(source, 0));
            var addresses = IPAddress.TryParse(target.Host, out var literal)
                ? [literal]
                : await Dns.GetHostAddressesAsync(target.Host, source.AddressFamily, cancellationToken).ConfigureAwait(false);
            await socket.ConnectAsync(addresses, target.Port, cancellationToken).ConfigureAwait(false);
            return new NetworkStream(socket, ownsSocket: true);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    private static IPAddress ParseAddress(string text) =>
        IPAddress.TryParse(text, out var address) ? address : throw new FormatException($"'{text}' is not an IP address");

    private static uint ToNumber(IPAddress address) => (uint)IPAddress.NetworkToHostOrder(BitConverter.ToInt32(address.GetAddressBytes()));

    /// <summary>The default spread for <paramref name="connections"/> connections: 127.0.0.1 alone up to <paramref name="perAddress"/>, then 127.0.0.1-127.0.0.N.</summary>
    public static IReadOnlyList<IPAddress> LoopbackFor(int connections, int perAddress = 20_000)
    {
        var count = Math.Max(1, (connections + perAddress - 1) / perAddress);
        return ParseList(count == 1 ? "127.0.0.1" : string.Create(CultureInfo.InvariantCulture, $"127.0.0.1-127.0.0.{count}"));
    }
}
