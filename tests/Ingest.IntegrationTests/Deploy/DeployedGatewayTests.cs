using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Ingest.Kafka.Embedded;
using Ingest.Testing;
using Ingest.UnitTests.Deploy;

namespace Ingest.IntegrationTests.Deploy;

/// <summary>
/// The gateway as the deployment files start it: the process the image runs (its ENTRYPOINT, its
/// CMD's --urls moved to 127.0.0.1) with exactly the environment that docker-compose.yml, or a
/// Kubernetes overlay's ConfigMap and pod spec, give it. Only addresses of other services change:
/// Kafka becomes an embedded broker, the OTLP collector a listener of the test's, the ports free
/// ones on 127.0.0.1. It must serve, be ready, pass the health checks and probes the files declare.
/// </summary>
public sealed class DeployedGatewayTests
{
    public static TheoryData<string> Overlays => new(DeployFiles.Overlays);

    [Fact]
    public async Task ComposeGateway_WithItsEnvironment_ServesIsReady_AndPassesItsHealthChecks()
    {
        var (name, service) = DeployFiles.ComposeGateways(DeployFiles.ComposeConfig()).First();
        var environment = service["environment"].Entries.ToDictionary(e => e.Key, e => e.Value.Text ?? "");
        using var cluster = StartKafka(environment);
        using var collector = new TcpListener(IPAddress.Loopback, 0);
        collector.Start();
        environment["Ingest__Kafka__BootstrapServers"] = cluster.BootstrapServers;
        environment["OTEL_EXPORTER_OTLP_ENDPOINT"] = Loopback(environment["OTEL_EXPORTER_OTLP_ENDPOINT"], "otel-collector", collector);

        await using var gateway = await StartAsync(environment);

        await SendOneEventAsync(gateway);
        var port = gateway.HttpUri.Port;
        Assert.Equal(0, await RunHealthCheckAsync(service["healthcheck"]["test"].Items.Select(i => i.Text!).ToArray(), port));
        Assert.Equal(0, await RunHealthCheckAsync(["CMD", .. DeployFiles.DockerfileHealthCheck("gateway")], port));
        Assert.NotEqual(0, await RunHealthCheckAsync(["CMD", .. DeployFiles.DockerfileHealthCheck("gateway")], ClosedPort()));
        // The standard OTEL_EXPORTER_OTLP_ENDPOINT reaches the exporter: the request traces are sent to it.
        using var exported = await collector.AcceptTcpClientAsync(TestContext.Current.CancellationToken).AsTask().WaitAsync(TimeSpan.FromSeconds(30), TestContext.Current.CancellationToken);
        Assert.True(exported.Connected, $"{name} did not export to the collector's address");
    }

    [Theory]
    [MemberData(nameof(Overlays))]
    public async Task KubernetesPod_WithItsConfigMap_ServesIsReady_AndAnswersEveryProbe(string overlay)
    {
        var objects = DeployFiles.Kustomize(overlay);
        var container = DeployFiles.GatewayContainer(DeployFiles.Object(objects, "Deployment"));
        var environment = DeployFiles.PodEnvironment(objects, withSecret: false, podName: $"ingest-gateway-{overlay}-test");
        using var cluster = StartKafka(environment);
        using var collector = new TcpListener(IPAddress.Loopback, 0);
        collector.Start();
        environment["Ingest__Kafka__BootstrapServers"] = cluster.BootstrapServers;
        if (environment.TryGetValue("OTEL_EXPORTER_OTLP_ENDPOINT", out var otlp))
        {
            environment["OTEL_EXPORTER_OTLP_ENDPOINT"] = Loopback(otlp, new Uri(otlp).Host, collector);
        }

        var managementPort = ClosedPort();
        environment["Ingest__Management__Port"] = managementPort.ToString(CultureInfo.InvariantCulture);

        await using var gateway = await StartAsync(environment);

        await SendOneEventAsync(gateway);
        var ports = new Dictionary<string, int> { ["http"] = gateway.HttpUri.Port, ["management"] = managementPort };
        foreach (var probe in new[] { "startupProbe", "readinessProbe", "livenessProbe" })
        {
            var get = container[probe]["httpGet"];
            var uri = new Uri($"http://127.0.0.1:{ports[get["port"].Text!]}{get["path"].Text}");
            using var response = await gateway.Http.GetAsync(uri, TestContext.Current.CancellationToken);
            Assert.True(response.StatusCode == HttpStatusCode.OK, $"{probe} {uri}: {(int)response.StatusCode}");
        }

        // /stats (and /metrics) only on the management port, which the Service leaves out.
        using var onManagement = await gateway.Http.GetAsync(new Uri($"http://127.0.0.1:{managementPort}/stats"), TestContext.Current.CancellationToken);
        using var onMain = await gateway.Http.GetAsync(new Uri("/stats", UriKind.Relative), TestContext.Current.CancellationToken);
        Assert.Equal(HttpStatusCode.OK, onManagement.StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, onMain.StatusCode);
    }

    [Fact]
    public async Task ProdSecret_AsCommitted_StopsTheGateway_NamingTheEmptyApiKey()
    {
        var environment = DeployFiles.PodEnvironment(DeployFiles.Kustomize("prod"), withSecret: true, podName: "ingest-gateway-prod-test");
        Assert.Equal("", environment["Ingest__Auth__ApiKeys__0"]);
        using var cluster = StartKafka(environment);
        environment["Ingest__Kafka__BootstrapServers"] = cluster.BootstrapServers;
        environment["Ingest__Management__Port"] = ClosedPort().ToString(CultureInfo.InvariantCulture);
        environment.Remove("OTEL_EXPORTER_OTLP_ENDPOINT");

        await using var gateway = GatewayProcessHost.Start(new Dictionary<string, string>(), environment: environment);

        Assert.True(await gateway.WaitForExitAsync(TimeSpan.FromSeconds(60)), "the gateway started with an empty API key");
        Assert.Equal(2, gateway.ExitCode);
        Assert.Contains(gateway.Output, line => line.StartsWith("Invalid configuration: ", StringComparison.Ordinal) && line.Contains("Ingest:Auth:ApiKeys", StringComparison.Ordinal));
    }

    /// <summary>The process the image starts: ENTRYPOINT dotnet Ingest.Gateway.dll, and a CMD that only sets --urls (moved to 127.0.0.1).</summary>
    private static async Task<GatewayProcessHost> StartAsync(Dictionary<string, string> environment)
    {
        Assert.Equal(["dotnet", "Ingest.Gateway.dll"], DeployFiles.DockerfileExec("gateway", "ENTRYPOINT"));
        Assert.True(DeployFiles.DockerfileExec("gateway", "CMD") is ["--urls", _], "the image's CMD does more than set --urls");
        var gateway = GatewayProcessHost.Start(new Dictionary<string, string>(), environment: environment);
        try
        {
            await gateway.WaitUntilReadyAsync();
            return gateway;
        }
        catch
        {
            await gateway.DisposeAsync();
            throw;
        }
    }

    /// <summary>An embedded broker with the topics the environment names.</summary>
    private static EmbeddedKafkaCluster StartKafka(Dictionary<string, string> environment)
    {
        Assert.True(environment.ContainsKey("Ingest__Kafka__BootstrapServers"), "the environment names no Kafka");
        var cluster = EmbeddedKafkaCluster.Start(brokerCount: 1);
        cluster.CreateTopic(environment.GetValueOrDefault("Ingest__Kafka__Topic", "events"), 4);
        cluster.CreateTopic(environment.GetValueOrDefault("Ingest__Kafka__DeadLetterTopic", "events.dlq"), 4);
        return cluster;
    }

    private static async Task SendOneEventAsync(GatewayProcessHost gateway)
    {
        await using var client = await TestClient.ConnectAsync(gateway.WebSocketUri);
        await client.SendAndWaitAckAsync($$"""{"msg":"deployed","clientId":"deploy-test","timestamp":{{DateTimeOffset.UtcNow.ToUnixTimeMilliseconds()}}}""");
    }

    /// <summary>An endpoint of another service, moved to the test's listener on 127.0.0.1.</summary>
    private static string Loopback(string endpoint, string expectedHost, TcpListener listener)
    {
        var uri = new Uri(endpoint);
        Assert.Equal(expectedHost, uri.Host);
        return new UriBuilder(uri) { Host = "127.0.0.1", Port = ((IPEndPoint)listener.LocalEndpoint).Port }.Uri.ToString().TrimEnd('/');
    }

    /// <summary>Runs a health check as the engine does (CMD: the program and its arguments; CMD-SHELL: /bin/sh -c), with the image's port moved.</summary>
    private static async Task<int> RunHealthCheckAsync(string[] test, int port)
    {
        var imagePort = new Uri(DeployFiles.DockerfileExec("gateway", "CMD")[1]).Port;
        var arguments = test.Skip(1).Select(a => a.Replace($"/dev/tcp/127.0.0.1/{imagePort}", $"/dev/tcp/127.0.0.1/{port}", StringComparison.Ordinal)).ToList();
        Assert.True(arguments.Any(a => a.Contains($"/dev/tcp/127.0.0.1/{port}", StringComparison.Ordinal)), $"the health check does not ask the image's port: {string.Join(' ', test)}");
        var start = test[0] switch
        {
            "CMD" => new ProcessStartInfo(arguments[0], arguments.Skip(1)),
            "CMD-SHELL" => new ProcessStartInfo("/bin/sh", ["-c", arguments[0]]),
            _ => throw new InvalidOperationException($"unknown health check form {test[0]}"),
        };
        start.RedirectStandardError = true;
        using var process = Process.Start(start)!;
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        timeout.CancelAfter(TimeSpan.FromSeconds(10));
        await process.WaitForExitAsync(timeout.Token);
        return process.ExitCode;
    }

    private static int ClosedPort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
