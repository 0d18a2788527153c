using System.Globalization;
using System.Text.RegularExpressions;
using Ingest.Gateway.Configuration;
using Ingest.Gateway.Lifecycle;

namespace Ingest.UnitTests.Deploy;

/// <summary>
/// <c>docker-compose.yml</c> as <c>docker-compose config</c> renders it, for the default and every
/// profile: which services each runs, that every image is pinned and every mounted file exists, and
/// that the pieces agree with each other (nginx and Prometheus name the gateways and their port,
/// the topic script the cluster's brokers, the gateways the collector and the proxy's network).
/// </summary>
public sealed partial class ComposeTests
{
    private static readonly string[] DefaultServices = ["kafka", "kafka-topics", "gateway-1", "gateway-2", "nginx", "listener"];

    public static TheoryData<string[], string[]> Profiles => new()
    {
        { [], DefaultServices },
        { ["cluster"], [.. DefaultServices, "kafka-2", "kafka-3"] },
        { ["observability"], [.. DefaultServices, "otel-collector", "prometheus", "grafana"] },
        { ["cluster", "observability"], [.. DefaultServices, "kafka-2", "kafka-3", "otel-collector", "prometheus", "grafana"] },
    };

    [Theory]
    [MemberData(nameof(Profiles))]
    public void Profiles_RunTheirServices_WhoseDependenciesRunToo(string[] profiles, string[] services)
    {
        var active = DeployFiles.ActiveServices(DeployFiles.ComposeConfig(), profiles);

        Assert.Equal(services.Order(StringComparer.Ordinal), active.Select(s => s.Name).Order(StringComparer.Ordinal));
        // docker-compose config accepts a dependency on a service of another profile; up refuses it.
        foreach (var (name, service) in active)
        {
            foreach (var dependency in service["depends_on"].Entries.Select(d => d.Key).Concat(service["depends_on"].Items.Select(d => d.Text!)))
            {
                Assert.True(active.Any(s => s.Name == dependency), $"{name} depends on {dependency}, which these profiles do not run");
            }
        }
    }

    [Fact]
    public void EveryImage_IsPinnedToAVersion()
    {
        var config = DeployFiles.ComposeConfig();
        foreach (var (name, service) in config["services"].Entries)
        {
            var image = service["image"].Text;
            Assert.False(image is null, $"{name} names no image");
            if (service["build"].Exists)
            {
                continue; // built here from deploy/Dockerfile, whose base images are pinned (DockerfileTests)
            }

            Assert.Matches(PinnedTag(), image);
        }
    }

    [Fact]
    public void EveryMountedFile_IsInTheRepository()
    {
        var config = DeployFiles.ComposeConfig();
        var mounts = config["services"].Entries.SelectMany(s => s.Value["volumes"].Items).Select(Mount).ToList();
        Assert.NotEmpty(mounts);
        foreach (var (source, _) in mounts)
        {
            Assert.True(File.Exists(source) || Directory.Exists(source), $"{source} is mounted but not in the repository");
            Assert.StartsWith(DeployFiles.Root, source, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void Gateways_StopGracePeriod_CoversTheShutdownBudget()
    {
        foreach (var (name, gateway) in DeployFiles.ComposeGateways(DeployFiles.ComposeConfig()))
        {
            var budget = TimeSpan.FromMilliseconds(int.Parse(gateway["environment"]["Ingest__Shutdown__TimeoutMs"].Text ?? $"{new ShutdownOptions().TimeoutMs}", CultureInfo.InvariantCulture));
            var grace = Duration(gateway["stop_grace_period"].Text ?? "10s");
            Assert.True(grace >= ShutdownBudget.HostTimeout(budget), $"{name}: stop_grace_period {grace} is shorter than the budget {budget} plus the host's margin");
        }
    }

    [Fact]
    public void Nginx_ProxiesWebSocketsToEveryGateway_WithTimeoutsPastThePingInterval()
    {
        var config = DeployFiles.ComposeConfig();
        var nginx = DeployFiles.Read("deploy/compose/nginx.conf");
        var port = ImagePort();
        var servers = NginxServer().Matches(nginx).Select(m => m.Groups["address"].Value).Order(StringComparer.Ordinal);
        Assert.Equal(DeployFiles.ComposeGateways(config).Select(g => $"{g.Name}:{port}").Order(StringComparer.Ordinal), servers);
        Assert.Contains("proxy_http_version 1.1;", nginx, StringComparison.Ordinal);
        Assert.Contains("proxy_set_header Upgrade $http_upgrade;", nginx, StringComparison.Ordinal);
        Assert.Contains("proxy_set_header Connection $connection_upgrade;", nginx, StringComparison.Ordinal);
        Assert.Contains("proxy_set_header X-Forwarded-For ", nginx, StringComparison.Ordinal);

        // An idle WebSocket carries a ping and its pong every interval; the gateway itself gives up
        // on a missing pong after the keep-alive timeout. nginx must wait longer than both.
        var defaults = new WebSocketOptions();
        foreach (var (name, gateway) in DeployFiles.ComposeGateways(config))
        {
            var interval = TimeSpan.FromMilliseconds(int.Parse(gateway["environment"]["Ingest__WebSocket__KeepAliveIntervalMs"].Text ?? $"{defaults.KeepAliveIntervalMs}", CultureInfo.InvariantCulture));
            var pongTimeout = TimeSpan.FromMilliseconds(int.Parse(gateway["environment"]["Ingest__WebSocket__KeepAliveTimeoutMs"].Text ?? $"{defaults.KeepAliveTimeoutMs}", CultureInfo.InvariantCulture));
            foreach (var directive in new[] { "proxy_read_timeout", "proxy_send_timeout" })
            {
                var timeout = Duration(Regex.Match(nginx, $@"\b{directive}\s+(\w+);").Groups[1].Value);
                Assert.True(timeout > interval + pongTimeout, $"nginx {directive} {timeout} could close an idle WebSocket of {name} (pinged every {interval}, pong awaited {pongTimeout})");
            }
        }

        var published = Assert.Single(config["services"]["nginx"]["ports"].Items);
        Assert.Equal(NginxListen().Match(nginx).Groups["port"].Value, published["target"].Text);
    }

    [Fact]
    public void Gateways_TrustTheProxysForwardedAddresses_FromTheComposeNetworkOnly()
    {
        var config = DeployFiles.ComposeConfig();
        var subnet = Assert.Single(config["networks"]["default"]["ipam"]["config"].Items)["subnet"].Text;
        Assert.NotNull(subnet);
        foreach (var (name, gateway) in DeployFiles.ComposeGateways(config))
        {
            Assert.True(subnet == gateway["environment"]["Ingest__Limits__TrustedProxies__0"].Text, $"{name} does not trust the network nginx reaches it from");
            Assert.False(gateway["environment"]["Ingest__Limits__TrustedProxies__1"].Exists, $"{name} trusts more than the compose network");
        }

        Assert.DoesNotContain(config["services"].Entries, s => s.Key.StartsWith("gateway", StringComparison.Ordinal) && s.Value["ports"].Exists);
    }

    [Fact]
    public void Gateways_ExportOtlpToTheCollector_AndPrometheusScrapesEachGatewaysMetrics()
    {
        var config = DeployFiles.ComposeConfig();
        var collector = YamlValue.Parse(DeployFiles.Read("deploy/compose/otel-collector.yaml")).Single();
        var grpcPort = collector["receivers"]["otlp"]["protocols"]["grpc"]["endpoint"].Text!.Split(':')[1];
        var gateways = DeployFiles.ComposeGateways(config).ToList();
        foreach (var (name, gateway) in gateways)
        {
            Assert.True(new Uri($"http://otel-collector:{grpcPort}") == new Uri(gateway["environment"]["OTEL_EXPORTER_OTLP_ENDPOINT"].Text!), $"{name} exports elsewhere than the collector's gRPC receiver");
        }

        Assert.Contains("otlp", collector["service"]["pipelines"]["traces"]["receivers"].Items.Select(r => r.Text));
        Assert.Contains("otlp", collector["service"]["pipelines"]["metrics"]["receivers"].Items.Select(r => r.Text));

        var prometheus = YamlValue.Parse(DeployFiles.Read("deploy/compose/prometheus.yml")).Single();
        var job = Assert.Single(prometheus["scrape_configs"].Items);
        Assert.Equal("/metrics", job["metrics_path"].Text);
        var targets = job["static_configs"].Items.SelectMany(c => c["targets"].Items).Select(t => t.Text).Order(StringComparer.Ordinal);
        Assert.Equal(gateways.Select(g => $"{g.Name}:{ImagePort()}").Order(StringComparer.Ordinal), targets);
    }

    [Fact]
    public void Grafana_HasThePrometheusDataSource_AndLoadsTheDashboardsFolder()
    {
        var config = DeployFiles.ComposeConfig();
        var datasource = Assert.Single(YamlValue.Parse(DeployFiles.Read("deploy/grafana/provisioning/datasources/prometheus.yaml")).Single()["datasources"].Items);
        Assert.Equal("prometheus", datasource["type"].Text);
        var prometheusPort = Assert.Single(config["services"]["prometheus"]["ports"].Items)["target"].Text;
        Assert.Equal(new Uri($"http://prometheus:{prometheusPort}"), new Uri(datasource["url"].Text!));

        var provider = Assert.Single(YamlValue.Parse(DeployFiles.Read("deploy/grafana/provisioning/dashboards/ingest.yaml")).Single()["providers"].Items);
        var mounts = config["services"]["grafana"]["volumes"].Items.Select(Mount).ToList();
        var dashboards = Assert.Single(mounts, m => m.Source == DeployFiles.PathOf("deploy/grafana/dashboards"));
        Assert.Equal(dashboards.Target, provider["options"]["path"].Text);
        Assert.Contains((DeployFiles.PathOf("deploy/grafana/provisioning"), "/etc/grafana/provisioning"), mounts);
    }

    [Fact]
    public void ClusterProfile_AddsTwoBrokersToTheDefaultOne_WhichTheTopicScriptLooksFor()
    {
        var config = DeployFiles.ComposeConfig();
        static List<(string Name, YamlValue Service)> Brokers(IEnumerable<(string Name, YamlValue Service)> services) =>
            services.Where(s => s.Service["environment"]["KAFKA_NODE_ID"].Exists).ToList();
        var single = Brokers(DeployFiles.ActiveServices(config));
        var cluster = Brokers(DeployFiles.ActiveServices(config, "cluster"));

        Assert.Equal("kafka", Assert.Single(single).Name);
        Assert.Equal(3, cluster.Count);
        Assert.Equal(3, cluster.Select(b => b.Service["environment"]["KAFKA_NODE_ID"].Text).Distinct().Count());
        Assert.Single(cluster.Select(b => b.Service["environment"]["CLUSTER_ID"].Text).Distinct());
        Assert.Single(cluster.Select(b => b.Service["environment"]["KAFKA_CONTROLLER_QUORUM_VOTERS"].Text).Distinct());

        var script = DeployFiles.Read("deploy/compose/create-topics.sh");
        var probed = Regex.Match(script, @"for host in ([^;]+);").Groups[1].Value.Split(' ', StringSplitOptions.RemoveEmptyEntries).Order(StringComparer.Ordinal);
        Assert.Equal(cluster.Select(b => b.Name).Except(single.Select(b => b.Name)).Order(StringComparer.Ordinal), probed);
        Assert.Contains("3) replication=3 min_insync=2 ;;", script, StringComparison.Ordinal);
        Assert.Equal(["bash", "/opt/ingest/create-topics.sh"], config["services"]["kafka-topics"]["entrypoint"].Items.Select(i => i.Text));
    }

    /// <summary>The port the image listens on: the URL of its CMD.</summary>
    internal static int ImagePort()
    {
        var command = DeployFiles.DockerfileExec("gateway", "CMD");
        return new Uri(command[Array.IndexOf(command, "--urls") + 1]).Port;
    }

    /// <summary>A volume in either syntax: source:target[:mode], or a mapping.</summary>
    private static (string Source, string Target) Mount(YamlValue volume) =>
        volume.Text is { } text ? (text.Split(':')[0], text.Split(':')[1]) : (volume["source"].Text!, volume["target"].Text!);

    private static TimeSpan Duration(string text)
    {
        var match = Regex.Match(text, @"^(?:(?<m>\d+)m)?(?:(?<s>\d+)s)?$");
        Assert.True(match.Success && text.Length > 0, $"'{text}' is not a duration in s or m");
        return TimeSpan.FromMinutes(match.Groups["m"].Success ? int.Parse(match.Groups["m"].Value, CultureInfo.InvariantCulture) : 0)
            + TimeSpan.FromSeconds(match.Groups["s"].Success ? int.Parse(match.Groups["s"].Value, CultureInfo.InvariantCulture) : 0);
    }

    /// <summary>name:version, the version starting with a digit (or v and a digit): never latest, never absent.</summary>
    [GeneratedRegex(@"^[a-z0-9./-]+:v?[0-9][A-Za-z0-9._-]*$")]
    private static partial Regex PinnedTag();

    [GeneratedRegex(@"^\s*server\s+(?<address>[\w.-]+:\d+)\b", RegexOptions.Multiline)]
    private static partial Regex NginxServer();

    [GeneratedRegex(@"^\s*listen\s+(?<port>\d+);", RegexOptions.Multiline)]
    private static partial Regex NginxListen();
}
