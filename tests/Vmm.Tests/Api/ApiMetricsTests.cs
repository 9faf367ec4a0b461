using System.Globalization;
using System.Text.RegularExpressions;

namespace ActorVmm.Vmm.Tests.Api;

/// <summary><c>GET /metrics</c>: Prometheus text with per-VM series that go away with their VM.</summary>
public sealed partial class ApiMetricsTests
{
    [Fact]
    public async Task Metrics_should_parse_as_prometheus_text_with_per_vm_series()
    {
        await using var api = await ApiTestServer.StartAsync();
        await api.CreateVmAsync("a");
        await api.CreateVmAsync("b");
        await api.SendAsync(HttpMethod.Post, "vms/a/start");
        await api.SendAsync(HttpMethod.Post, "vms/a/devices/disk0/crash");

        var (contentType, samples) = await ScrapeAsync(api);

        Assert.StartsWith("text/plain", contentType);
        Assert.Equal(2, Value(samples, "actorvmm_vms", ""));
        Assert.Equal(1, Value(samples, "actorvmm_vm_state", "state=\"running\",vm=\"a\""));
        Assert.Equal(0, Value(samples, "actorvmm_vm_state", "state=\"created\",vm=\"a\""));
        Assert.Equal(1, Value(samples, "actorvmm_vm_state", "state=\"created\",vm=\"b\""));
        Assert.Equal(40, Value(samples, "actorvmm_vm_exits_total", "kind=\"io\",vm=\"a\""));
        Assert.Equal(10, Value(samples, "actorvmm_device_accesses_total", "device=\"disk0\",mode=\"inline\",vm=\"a\""));
        Assert.Equal(5, Value(samples, "actorvmm_device_accesses_total", "device=\"disk0\",mode=\"posted\",vm=\"a\""));
        Assert.Equal(1, Value(samples, "actorvmm_device_restarts_total", "device=\"disk0\",vm=\"a\""));
        Assert.Equal(0, Value(samples, "actorvmm_device_restarts_total", "device=\"disk0\",vm=\"b\""));
        Assert.Equal(1, Value(samples, "actorvmm_device_failures_total", "device=\"disk0\",vm=\"a\""));
        Assert.Equal(3, Value(samples, "actorvmm_device_faults_fired_total", "device=\"disk0\",vm=\"a\""));
        Assert.Equal(1, Value(samples, "actorvmm_device_read_timeouts_total", "device=\"disk0\",vm=\"a\""));
        Assert.Equal(7, Value(samples, "actorvmm_virtio_requests_total", "device=\"disk0\",vm=\"a\""));
        Assert.Equal(3584, Value(samples, "actorvmm_virtio_bytes_total", "device=\"disk0\",vm=\"a\""));
    }

    [Fact]
    public async Task Metrics_of_a_deleted_vm_should_go_away()
    {
        await using var api = await ApiTestServer.StartAsync();
        await api.CreateVmAsync("a");
        await api.CreateVmAsync("b");
        var (_, before) = await ScrapeAsync(api);
        Assert.Contains(before, s => s.Labels.Contains("vm=\"a\"", StringComparison.Ordinal));

        await api.SendAsync(HttpMethod.Delete, "vms/a");
        var (_, after) = await ScrapeAsync(api);

        Assert.DoesNotContain(after, s => s.Labels.Contains("vm=\"a\"", StringComparison.Ordinal));
        Assert.Contains(after, s => s.Labels.Contains("vm=\"b\"", StringComparison.Ordinal));
        Assert.Equal(1, Value(after, "actorvmm_vms", ""));
    }

    private static async Task<(string ContentType, List<Sample> Samples)> ScrapeAsync(ApiTestServer api)
    {
        using var response = await api.Client.GetAsync("metrics");
        Assert.Equal(200, (int)response.StatusCode);
        var text = await response.Content.ReadAsStringAsync();
        var samples = new List<Sample>();
        foreach (var line in text.Split('\n'))
        {
            if (line.Length == 0 || line.StartsWith("# HELP ", StringComparison.Ordinal) || line.StartsWith("# TYPE ", StringComparison.Ordinal))
            {
                continue;
            }

            var match = SampleLine().Match(line);
            Assert.True(match.Success, $"not a Prometheus sample line: {line}");
            var labels = match.Groups["labels"].Value;
            var sorted = labels.Length == 0 ? string.Empty : string.Join(',', LabelPair().Matches(labels).Select(m => m.Value).Order(StringComparer.Ordinal));
            samples.Add(new Sample(match.Groups["name"].Value, sorted, double.Parse(match.Groups["value"].Value, CultureInfo.InvariantCulture)));
        }

        return (response.Content.Headers.ContentType?.ToString() ?? string.Empty, samples);
    }

    private static double Value(List<Sample> samples, string name, string labels)
    {
        var sample = samples.SingleOrDefault(s => s.Name == name && s.Labels == labels);
        Assert.True(sample is not null, $"no sample {name}{{{labels}}}");
        return sample.Value;
    }

    private sealed record Sample(string Name, string Labels, double Value);

    [GeneratedRegex("^(?<name>[a-zA-Z_:][a-zA-Z0-9_:]*)(\\{(?<labels>[^}]*)\\})? (?<value>[-+0-9.eE]+|NaN|[+-]Inf)$")]
    private static partial Regex SampleLine();

    [GeneratedRegex("[a-zA-Z_][a-zA-Z0-9_]*=\"(?:[^\"\\\\]|\\\\.)*\"")]
    private static partial Regex LabelPair();
}
