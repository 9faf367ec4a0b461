using System.Globalization;
using System.Text;
using ActorVmm.Actors.Settings;
using ActorVmm.Kvm.Memory;

namespace ActorVmm.Host.Settings;

/// <summary>
/// The machine settings a snapshot records (HOCON under <c>actorvmm.vm</c>) and how a restore combines them with
/// the restoring side's: the machine (cpus, topology, memory and its huge pages, kernel, initrd, cmdline, console device, rng,
/// disks) comes from the snapshot; the host ends (serial, COM ports) and CPU pinning from the restoring side; disks given there replace the
/// snapshot's one for one (clones, each with its own copy). NICs given there replace the snapshot's backends (TAP or
/// switch, pcap, in order) but keep its MACs and MTUs: the guest's driver read them at boot and goes on using them.
/// </summary>
public static class SnapshotSettings
{
    public static string Render(VmSettings vm, string? kernel, string? initrd)
    {
        ArgumentNullException.ThrowIfNull(vm);
        var text = new StringBuilder();
        text.AppendLine("actorvmm.vm {");
        text.AppendLine(CultureInfo.InvariantCulture, $"  cpus = {vm.Cpus}");
        text.AppendLine(CultureInfo.InvariantCulture, $"  topology = {SettingOverride.Quote(vm.Topology?.Describe() ?? string.Empty)}");
        text.AppendLine(CultureInfo.InvariantCulture, $"  memory = {vm.MemoryBytes}");
        text.AppendLine(CultureInfo.InvariantCulture, $"  hugepages = {SettingOverride.Quote(vm.HugePages.Name())}");
        text.AppendLine(CultureInfo.InvariantCulture, $"  kernel = {SettingOverride.Quote(kernel ?? string.Empty)}");
        text.AppendLine(CultureInfo.InvariantCulture, $"  initrd = {SettingOverride.Quote(initrd ?? string.Empty)}");
        text.AppendLine(CultureInfo.InvariantCulture, $"  cmdline = {SettingOverride.Quote(vm.Cmdline)}");
        text.AppendLine(CultureInfo.InvariantCulture, $"  console = {vm.Console.ToString().ToLowerInvariant()}");
        text.AppendLine(CultureInfo.InvariantCulture, $"  rng = {(vm.Rng ? "on" : "off")}");
        text.AppendLine(CultureInfo.InvariantCulture, $"  transport = {vm.Transport.ToString().ToLowerInvariant()}");
        text.Append("  disks = [");
        text.AppendJoin(", ", vm.Disks.Select(d => $"{{ path = {SettingOverride.Quote(Path.GetFullPath(d.Path))}, read-only = {(d.ReadOnly ? "on" : "off")}"
            + (d.Transport is { } t ? $", transport = {t.ToString().ToLowerInvariant()}" : string.Empty) + " }"));
        text.AppendLine("]");
        text.Append("  nets = [");
        text.AppendJoin(", ", vm.Nets.Select(n => SettingOverride.Quote(n.ToString())));
        text.AppendLine("]");
        text.AppendLine("}");
        return text.ToString();
    }

    /// <summary>The VM settings to restore with: the snapshot's machine, <paramref name="local"/>'s host ends and disks (when given).</summary>
    /// <exception cref="SettingsException">The recorded settings do not load, or the disk count differs (one line).</exception>
    public static VmSettings Apply(VmSettings local, string recorded, string source)
    {
        ArgumentNullException.ThrowIfNull(local);
        VmSettings saved;
        try
        {
            saved = SettingsLoader.Parse(recorded, source).Vm;
        }
        catch (SettingsException e)
        {
            throw new SettingsException($"{source}: its recorded settings do not load: {SettingsLoader.FirstLine(e.Message)}", source: source, inner: e);
        }

        if (local.Disks.Count != 0 && local.Disks.Count != saved.Disks.Count)
        {
            throw new SettingsException(
                $"{source}: the snapshot has {saved.Disks.Count} disk(s), {local.Disks.Count} given: give one for each, in order, or none", source: source);
        }

        if (local.Nets.Count != 0 && local.Nets.Count != saved.Nets.Count)
        {
            throw new SettingsException(
                $"{source}: the snapshot has {saved.Nets.Count} NIC(s), {local.Nets.Count} given: give one for each, in order, or none", source: source);
        }

        if (local.Nets.Select((n, i) => (n, i)).FirstOrDefault(t => t.n.Mac is { } mac && mac != saved.Nets[t.i].Mac) is ({ } changed, var index))
        {
            throw new SettingsException(
                $"{source}: net{index} keeps the snapshot's mac {saved.Nets[index].Mac} (the guest already uses it), not {changed.Mac}", source: source);
        }

        return local with
        {
            Cpus = saved.Cpus,
            Topology = saved.Topology,
            MemoryBytes = saved.MemoryBytes,
            HugePages = saved.HugePages,
            Kernel = saved.Kernel,
            Initrd = saved.Initrd,
            Cmdline = saved.Cmdline,
            Console = saved.Console,
            Rng = saved.Rng,
            Transport = saved.Transport,
            Disks = local.Disks.Count == 0 ? saved.Disks : [.. local.Disks.Select((d, i) => d with { Transport = saved.Disks[i].Transport })],
            Nets = local.Nets.Count == 0
                ? saved.Nets
                : [.. local.Nets.Select((n, i) => n with { Mac = saved.Nets[i].Mac, Mtu = saved.Nets[i].Mtu, Transport = saved.Nets[i].Transport })],
        };
    }
}
