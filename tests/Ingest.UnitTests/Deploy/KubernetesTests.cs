using System.Globalization;
using Ingest.Gateway;
using Ingest.Gateway.Configuration;
using Ingest.Gateway.Lifecycle;
using Microsoft.AspNetCore.Routing;

namespace Ingest.UnitTests.Deploy;

/// <summary>
/// Each Kubernetes overlay as <c>kubectl kustomize</c> renders it: the objects name each other by
/// names and ports that exist, the probes ask for routes the gateway maps, the grace period covers
/// the shutdown budget, and the scrape annotations point at the port that serves <c>/metrics</c>.
/// </summary>
public sealed class KubernetesTests
{
    public static TheoryData<string> Overlays => new(DeployFiles.Overlays);

    public static TheoryData<string> BaseAndOverlays => new(["base", .. DeployFiles.Overlays]);

    [Theory]
    [MemberData(nameof(BaseAndOverlays))]
    public void Renders_TheGatewaysObjects(string overlay)
    {
        var kinds = DeployFiles.Kustomize(overlay).Select(o => o["kind"].Text).Order(StringComparer.Ordinal);

        Assert.Equal(
            new[] { "ConfigMap", "Deployment", "HorizontalPodAutoscaler", "NetworkPolicy", "PodDisruptionBudget", "Secret", "Service", "ServiceAccount" },
            kinds);
    }

    [Theory]
    [MemberData(nameof(BaseAndOverlays))]
    public void Objects_ReferToEachOther_ByExistingNamesAndPorts(string overlay)
    {
        var objects = DeployFiles.Kustomize(overlay);
        var deployment = DeployFiles.Object(objects, "Deployment");
        var pod = deployment["spec"]["template"];
        var podLabels = Labels(pod["metadata"]["labels"]);
        var container = DeployFiles.GatewayContainer(deployment);
        var ports = container["ports"].Items.ToDictionary(p => p["name"].Text!, p => p["containerPort"].Text!);

        Assert.True(Selects(deployment["spec"]["selector"]["matchLabels"], podLabels), "the Deployment's selector does not match its pods");

        var service = DeployFiles.Object(objects, "Service");
        Assert.True(Selects(service["spec"]["selector"], podLabels), "the Service selects no gateway pod");
        foreach (var port in service["spec"]["ports"].Items)
        {
            Assert.Contains(port["targetPort"].Text!, ports.Keys);
        }

        foreach (var source in container["envFrom"].Items)
        {
            var (kind, reference) = source["configMapRef"].Exists ? ("ConfigMap", source["configMapRef"]) : ("Secret", source["secretRef"]);
            Assert.False(reference["optional"].Text == "true", $"{kind} {reference["name"].Text} is optional: a missing one would go unnoticed");
            DeployFiles.Object(objects, kind, reference["name"].Text);
        }

        DeployFiles.Object(objects, "ServiceAccount", pod["spec"]["serviceAccountName"].Text);

        var hpa = DeployFiles.Object(objects, "HorizontalPodAutoscaler");
        Assert.Equal("Deployment", hpa["spec"]["scaleTargetRef"]["kind"].Text);
        Assert.Equal(deployment["metadata"]["name"].Text, hpa["spec"]["scaleTargetRef"]["name"].Text);
        Assert.Contains(hpa["spec"]["metrics"].Items, m => m["resource"]["name"].Text == "cpu");
        Assert.Contains(hpa["spec"]["metrics"].Items, m => m["pods"]["metric"]["name"].Text == "ingest_connections_active");

        Assert.True(Selects(DeployFiles.Object(objects, "PodDisruptionBudget")["spec"]["selector"]["matchLabels"], podLabels), "the PodDisruptionBudget covers no gateway pod");

        var policy = DeployFiles.Object(objects, "NetworkPolicy");
        Assert.True(Selects(policy["spec"]["podSelector"]["matchLabels"], podLabels), "the NetworkPolicy applies to no gateway pod");
        foreach (var port in policy["spec"]["ingress"].Items.SelectMany(rule => rule["ports"].Items))
        {
            Assert.Contains(port["port"].Text!, ports.Keys);
        }

        Assert.Contains(policy["spec"]["ingress"].Items, rule => rule["ports"].Items.Any(p => service["spec"]["ports"].Items.Any(s => s["targetPort"].Text == p["port"].Text)));

        foreach (var constraint in pod["spec"]["topologySpreadConstraints"].Items)
        {
            Assert.True(Selects(constraint["labelSelector"]["matchLabels"], podLabels), "a topology spread constraint counts other pods");
        }

        Assert.Single(pod["spec"]["topologySpreadConstraints"].Items, c => c["topologyKey"].Text == "topology.kubernetes.io/zone");
        var antiAffinity = Assert.Single(pod["spec"]["affinity"]["podAntiAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"].Items);
        Assert.True(Selects(antiAffinity["podAffinityTerm"]["labelSelector"]["matchLabels"], podLabels), "the anti-affinity keeps apart pods other than the gateway's");
    }

    [Theory]
    [MemberData(nameof(BaseAndOverlays))]
    public void Ports_AreTheImagesAndTheManagementPort_WhichTheScrapeAnnotationsName(string overlay)
    {
        var objects = DeployFiles.Kustomize(overlay);
        var deployment = DeployFiles.Object(objects, "Deployment");
        var container = DeployFiles.GatewayContainer(deployment);
        var ports = container["ports"].Items.ToDictionary(p => p["name"].Text!, p => p["containerPort"].Text!);
        var environment = DeployFiles.PodEnvironment(objects, withSecret: true, podName: "pod");

        Assert.Equal(ComposeTests.ImagePort().ToString(CultureInfo.InvariantCulture), ports["http"]);
        Assert.Equal(environment["Ingest__Management__Port"], ports["management"]);

        var annotations = deployment["spec"]["template"]["metadata"]["annotations"];
        Assert.Equal("true", annotations["prometheus.io/scrape"].Text);
        Assert.Equal("/metrics", annotations["prometheus.io/path"].Text);
        Assert.Equal(ports["management"], annotations["prometheus.io/port"].Text);
    }

    [Theory]
    [MemberData(nameof(BaseAndOverlays))]
    public async Task Probes_AskForRoutesTheGatewayMaps_OnPortsTheContainerHas(string overlay)
    {
        var container = DeployFiles.GatewayContainer(DeployFiles.Object(DeployFiles.Kustomize(overlay), "Deployment"));
        var routes = await GatewayRoutesAsync();
        var ports = container["ports"].Items.Select(p => p["name"].Text).ToHashSet();

        var probes = new[] { "startupProbe", "readinessProbe", "livenessProbe" }.ToDictionary(p => p, p => container[p]["httpGet"]);
        Assert.All(probes, p => Assert.True(p.Value.Exists, $"{p.Key} is missing or not an HTTP probe"));
        Assert.Equal("/readyz", probes["readinessProbe"]["path"].Text);
        Assert.Equal("/healthz", probes["livenessProbe"]["path"].Text);
        foreach (var (name, probe) in probes)
        {
            Assert.True(routes.Contains(probe["path"].Text!), $"{name} asks for {probe["path"].Text}, which the gateway does not map ({string.Join(", ", routes)})");
            Assert.Contains(probe["port"].Text, ports);
        }
    }

    [Theory]
    [MemberData(nameof(BaseAndOverlays))]
    public void TerminationGracePeriod_CoversPreStop_TheShutdownBudget_AndTheHostsMargin(string overlay)
    {
        var objects = DeployFiles.Kustomize(overlay);
        var pod = DeployFiles.Object(objects, "Deployment")["spec"]["template"]["spec"];
        var container = DeployFiles.GatewayContainer(DeployFiles.Object(objects, "Deployment"));
        var environment = DeployFiles.PodEnvironment(objects, withSecret: true, podName: "pod");

        var preStop = container["lifecycle"]["preStop"]["exec"]["command"].Items.Select(i => i.Text).ToArray();
        Assert.Equal("sleep", preStop[0]);
        var budget = TimeSpan.FromMilliseconds(int.Parse(environment.GetValueOrDefault("Ingest__Shutdown__TimeoutMs", $"{new ShutdownOptions().TimeoutMs}"), CultureInfo.InvariantCulture));
        var needed = TimeSpan.FromSeconds(int.Parse(preStop[1]!, CultureInfo.InvariantCulture)) + ShutdownBudget.HostTimeout(budget);
        var grace = TimeSpan.FromSeconds(int.Parse(pod["terminationGracePeriodSeconds"].Text!, CultureInfo.InvariantCulture));

        Assert.True(grace >= needed, $"terminationGracePeriodSeconds {grace.TotalSeconds} s < preStop + budget + host margin = {needed.TotalSeconds} s");
    }

    [Theory]
    [MemberData(nameof(BaseAndOverlays))]
    public void Container_HasResources_AndRunsUnprivileged(string overlay)
    {
        var deployment = DeployFiles.Object(DeployFiles.Kustomize(overlay), "Deployment");
        var container = DeployFiles.GatewayContainer(deployment);

        Assert.True(container["resources"]["requests"]["cpu"].Exists && container["resources"]["requests"]["memory"].Exists, "requests missing");
        Assert.True(container["resources"]["limits"]["memory"].Exists, "memory limit missing");
        Assert.Equal("true", deployment["spec"]["template"]["spec"]["securityContext"]["runAsNonRoot"].Text);
        Assert.Equal("false", container["securityContext"]["allowPrivilegeEscalation"].Text);
        Assert.Equal("0", deployment["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"].Text);
    }

    [Theory]
    [MemberData(nameof(Overlays))]
    public void Overlays_PinTheImage(string overlay)
    {
        var image = DeployFiles.GatewayContainer(DeployFiles.Object(DeployFiles.Kustomize(overlay), "Deployment"))["image"].Text!;

        Assert.Matches(@"^[a-z0-9./-]+:[A-Za-z0-9._-]+$", image);
        Assert.False(image.EndsWith(":latest", StringComparison.Ordinal), image);
    }

    /// <summary>The route patterns the gateway maps, read from the built application's endpoint data sources.</summary>
    private static async Task<HashSet<string>> GatewayRoutesAsync()
    {
        await using var app = GatewayApp.Build(["--urls", "http://127.0.0.1:0"]);
        return ((IEndpointRouteBuilder)app).DataSources
            .SelectMany(source => source.Endpoints)
            .OfType<RouteEndpoint>()
            .Select(endpoint => endpoint.RoutePattern.RawText ?? "")
            .Select(pattern => pattern.StartsWith('/') ? pattern : "/" + pattern)
            .ToHashSet(StringComparer.Ordinal);
    }

    private static Dictionary<string, string> Labels(YamlValue labels) => labels.Entries.ToDictionary(e => e.Key, e => e.Value.Text!);

    private static bool Selects(YamlValue selector, Dictionary<string, string> labels) =>
        selector.Entries.Count > 0 && selector.Entries.All(e => labels.TryGetValue(e.Key, out var value) && value == e.Value.Text);
}
