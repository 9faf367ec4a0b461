using ActorVmm.Actors.Bus;
using ActorVmm.Actors.Irq;
using ActorVmm.Actors.Vm;
using ActorVmm.Actors.Virtio;
using ActorVmm.Devices.Net;
using ActorVmm.Devices.Virtio;
using ActorVmm.Kvm;
using ActorVmm.Kvm.Memory;

namespace ActorVmm.Host.Composition;

/// <summary>Where a virtio-mmio device sits: its register window and its (level-triggered) GSI, as the DSDT announces it.</summary>
public sealed record VirtioMmioPlacement(string Name, ulong Base, ulong Size, uint Gsi);

/// <summary>
/// The virtio devices the settings put on virtio-mmio (<c>transport = mmio</c>), under the same names as over PCI
/// (<c>disk0..</c>, <c>console0</c>, <c>rng0</c>, <c>net0..</c>), so faults, stats, snapshots and supervision see
/// no difference:
/// <list type="bullet">
/// <item>device i in the 4 KiB window <see cref="Layout.VirtioMmioWindow"/>(i), at most
/// <see cref="Layout.VirtioMmioMaxDevices"/>, mapped on the MMIO bus as that device's range;</item>
/// <item>its interrupt a level-triggered line on <see cref="Layout.VirtioMmioGsi"/>: one of the inputs 16-23 the
/// PCI functions leave free (why level: <see cref="VirtioMmioDevice"/>);</item>
/// <item>an ioeventfd per queue on QueueNotify, datamatch on the queue's index (<see cref="QueueWorkers"/>).</item>
/// </list>
/// The guest finds them in the ACPI DSDT (<see cref="VirtioMmioPlacement"/>); Debian's kernel has no command-line devices.
/// </summary>
internal static class VirtioMmioDevices
{
    /// <summary>
    /// Whether <paramref name="models"/> fit beside <paramref name="pciDevices"/> virtio-pci functions: a window each,
    /// and an interrupt input PCI leaves free. Called before any KVM resource is opened.
    /// </summary>
    /// <exception cref="VmBuildException">They do not (one line).</exception>
    public static void Check(IReadOnlyList<PciDevices.VirtioModel> models, int pciDevices)
    {
        if (models.Count > Layout.VirtioMmioMaxDevices)
        {
            throw new VmBuildException(
                $"{models.Count} virtio-mmio devices asked for ({string.Join(", ", models.Select(m => m.Name))}), but a VM has room for {Layout.VirtioMmioMaxDevices}");
        }

        if (models.Count > 0 && Layout.VirtioMmioGsi(0, pciDevices) is null)
        {
            throw new VmBuildException(
                $"{pciDevices} virtio-pci devices take every PCI interrupt input (16-23), which virtio-mmio devices ({string.Join(", ", models.Select(m => m.Name))}) would share with other polarities: put at most {Layout.PciGsiCount - 1} on pci");
        }
    }

    /// <summary>The devices' blueprints and placements, in the order of <paramref name="models"/>, beside <paramref name="pciDevices"/> virtio-pci functions.</summary>
    /// <exception cref="VmBuildException">More devices than there are windows, or no interrupt input left by PCI (one line).</exception>
    public static (List<DeviceBlueprint> Devices, List<VirtioMmioPlacement> Placements, Dictionary<string, VirtqueueTraffic> Traffic) Build(
        IReadOnlyList<PciDevices.VirtioModel> models,
        int pciDevices,
        KvmVm vm,
        GuestMemory memory,
        SerialInputPort console,
        QueueWorkers workers,
        CompositeDisposable resources)
    {
        Check(models, pciDevices);
        var devices = new List<DeviceBlueprint>();
        var placements = new List<VirtioMmioPlacement>();
        var traffic = new Dictionary<string, VirtqueueTraffic>(StringComparer.Ordinal);
        for (var i = 0; i < models.Count; i++)
        {
            var (name, first, create, _) = models[i];
            var window = Layout.VirtioMmioWindow(i);
            var gsi = Layout.VirtioMmioGsi(i, pciDevices)!.Value;
            placements.Add(new VirtioMmioPlacement(name, window, Layout.VirtioMmioSize, gsi));
            var counters = traffic[name] = new VirtqueueTraffic();
            if (first is VirtioConsoleDevice)
            {
                console.RouteTo(name);
            }

            var handles = new int[first.QueueCount];
            for (var q = 0; q < handles.Length; q++)
            {
                // As over PCI: a disk's and a NIC's queues get a thread each, the others share the notifier.
                handles[q] = workers.Add(vm, name, q, window + VirtioMmioDevice.NotifyOffset,
                    blocksOnHostIo: first is VirtioBlockDevice or VirtioNetDevice, dataMatch: (uint)q);
            }

            var holder = resources.Add(new PciDevices.ModelHolder(first));
            devices.Add(new DeviceBlueprint(
                name,
                ctx => new VirtioMmioDevice(ctx.Name, holder.Next(create), memory, ctx.Interrupt!)
                {
                    Traffic = counters,
                    QueueKickHandler = q =>
                    {
                        if ((uint)q < (uint)handles.Length)
                        {
                            workers.Signal(handles[q]);
                        }
                    },
                },
                [BusRange.Mmio(window, Layout.VirtioMmioSize)],
                IrqRequest.Level(gsi))
            {
                Kind = PciDevices.KindOf(first),
            });
        }

        return (devices, placements, traffic);
    }
}
