using System.Text.Json;
using System.Text.Json.Nodes;
using ActorVmm.Actors.Settings;
using ActorVmm.Host.Settings;

namespace ActorVmm.Host.Serve;

/// <summary>
/// Turns the body of <c>PUT /vms/{id}</c> into settings. The body's keys are the HOCON keys of <c>actorvmm.vm</c> plus
/// <c>faults</c> (<c>actorvmm.faults</c>); JSON is HOCON, so the body becomes one more layer over the server's own
/// settings and goes through the same <see cref="SettingsLoader"/> checks as a VM file: an unknown key or a bad value
/// is one line naming the key. <c>serial</c> is the server's: the console is kept in the VM's ring
/// (<c>GET /vms/{id}/console</c>); only <c>none</c> (keep no console output) may be asked for. With <c>restore</c>
/// the machine is the snapshot's: a body that also describes one (<c>cpus</c>, <c>memory</c>, ...) is refused;
/// <c>disks</c> (the clone's own) and <c>start-paused</c> go with it.
/// </summary>
public static class VmRequest
{
    /// <summary>The source name settings errors carry.</summary>
    public const string Source = "request body";

    /// <summary>The body keys a restore takes from the snapshot instead.</summary>
    private static readonly string[] MachineKeys = ["cpus", "topology", "memory", "hugepages", "kernel", "initrd", "cmdline", "console", "rng"];

    /// <summary>What the body asked for: settings, and whether the console output is kept.</summary>
    public sealed record Parsed(ActorVmmSettings Settings, bool KeepConsole);

    /// <exception cref="VmServiceException">400 with one line naming the problem.</exception>
    public static Parsed Parse(string json, string serverHocon = "")
    {
        JsonObject body;
        try
        {
            body = JsonNode.Parse(json) as JsonObject ?? throw VmServiceException.BadRequest("the body must be a JSON object");
        }
        catch (JsonException e)
        {
            throw VmServiceException.BadRequest($"malformed JSON: {SettingsLoader.FirstLine(e.Message)}", e);
        }

        var vm = new JsonObject();
        JsonNode? faults = null;
        var keepConsole = true;
        foreach (var (key, value) in body)
        {
            switch (key)
            {
                case "faults":
                    faults = value?.DeepClone();
                    break;
                case "serial":
                    keepConsole = value is JsonValue v && v.TryGetValue<string>(out var serial) && serial == "none"
                        ? false
                        : throw VmServiceException.BadRequest(
                            "serial: the server keeps each VM's console in a ring (GET /vms/{id}/console); only \"none\" may be given");
                    break;
                default:
                    vm[key] = value?.DeepClone();
                    break;
            }
        }

        if (vm["restore"] is JsonValue restore && restore.TryGetValue<string>(out var directory) && directory.Length > 0
            && MachineKeys.FirstOrDefault(vm.ContainsKey) is { } machineKey)
        {
            throw VmServiceException.BadRequest($"{machineKey} cannot be given with restore: the machine comes from the snapshot");
        }

        var hocon = $"{serverHocon}\nactorvmm.vm.serial = none\nactorvmm.vm = {vm.ToJsonString()}\n";
        if (faults is not null)
        {
            hocon += $"actorvmm.faults = {faults.ToJsonString()}\n";
        }

        try
        {
            return new Parsed(SettingsLoader.Parse(hocon, Source), keepConsole);
        }
        catch (SettingsException e)
        {
            throw VmServiceException.BadRequest(VmRequestMessages.Readable(e.Message), e);
        }
    }
}

/// <summary>Error lines in the request's terms.</summary>
internal static class VmRequestMessages
{
    /// <summary>Names the body's key (<c>cpus</c>) rather than the HOCON path (<c>actorvmm.vm.cpus</c>).</summary>
    public static string Readable(string message) =>
        SettingsLoader.FirstLine(message).Replace($"{VmRequest.Source}: ", string.Empty, StringComparison.Ordinal)
            .Replace("actorvmm.vm.", string.Empty, StringComparison.Ordinal)
            .Replace("actorvmm.faults", "faults", StringComparison.Ordinal);
}
