using ActorVmm.Actors.Bus;
using ActorVmm.Actors.Endpoints;
using ActorVmm.Actors.Faults;
using ActorVmm.Actors.Irq;
using ActorVmm.Actors.Net;
using ActorVmm.Actors.Settings;
using ActorVmm.Host.Settings;
using ActorVmm.Actors.Vm;
using ActorVmm.Devices;
using ActorVmm.Devices.Pci;
using ActorVmm.Devices.Net;
using ActorVmm.Devices.Virtio;
using ActorVmm.Kvm;
using ActorVmm.Kvm.Boot;
using ActorVmm.Kvm.Memory;
using ActorVmm.Actors.Virtio;

namespace ActorVmm.Host.Composition;

/// <summary>
/// PCI bus 0 of the machine and the virtio devices on it:
/// <list type="bullet">
/// <item>the host bridge (00:00.0) and type-1 configuration I/O at 0xCF8..0xCFF (device <c>pci</c>);</item>
/// <item>one virtio-pci function per device (<c>disk0..</c>, <c>console0</c>, <c>rng0</c>), its 32 KiB memory BAR 0
/// placed by a <see cref="PciBarAllocator"/> in <see cref="Layout.PciMmio32Start"/>.. (the 32-bit gap below the
/// platform area: no RAM, no IOAPIC/LAPIC) and mapped on the MMIO bus as that device's range;</item>
/// <item>INTA# of each function on a level-triggered GSI from 16 up (the I/O APIC pins no ISA IRQ uses, shared
/// round-robin past 23), declared in the MP table as PCI interrupts (level, active low) — the fallback while the
/// guest does not enable MSI-X;</item>
/// <item>MSI-X with one vector per queue plus one for configuration changes (GSIs from 24 up, an irqfd each, routed
/// as the guest programs the table), when the IRQ backend offers MSI;</item>
/// <item>an ioeventfd per queue on its notify register (<see cref="QueueWorkers"/>; a disk's queues, whose passes
/// wait for host I/O, get a thread each, the others share the VM's notifier).</item>
/// </list>
/// BARs are programmed and valid at power-on, so Linux claims them as they are and does not reassign them. A guest
/// that moves a BAR anyway is not followed (the bus and the ioeventfds stay at the original address; the move is
/// counted by the slot) — documented limitation.
/// </summary>
internal static class PciDevices
{
    /// <summary>
    /// Builds the first instance of every virtio device model the settings ask for — disk images are opened and
    /// checked here (missing, not writable when read-write, empty, not whole sectors, given twice), before any KVM
    /// resource exists. Instances are owned by <paramref name="resources"/>.
    /// </summary>
    /// <exception cref="VmBuildException">A disk cannot be used (one line).</exception>
    public static List<VirtioModel> OpenModels(VmSettings settings, VmIo io, CompositeDisposable resources, FaultInjector faults, string vmName = "vm0", ICollection<BuiltNic>? nics = null)
    {
        var models = new List<VirtioModel>();
        var seen = new Dictionary<string, string>(StringComparer.Ordinal);
        for (var i = 0; i < settings.Disks.Count; i++)
        {
            var disk = settings.Disks[i];
            var name = $"disk{i}";
            var full = Path.GetFullPath(disk.Path);
            if (!seen.TryAdd(full, name))
            {
                throw new VmBuildException($"disk image '{disk.Path}' is given twice ({seen[full]} and {name})");
            }

            VirtioBlockDevice Open()
            {
                // Every instance (the first, and each one a restart re-opens) carries the disk's per-request faults.
                var block = new VirtioBlockDevice(disk.Path, disk.ReadOnly, serial: name);
                faults.AttachBlock(name, block);
                return block;
            }

            try
            {
                models.Add(new VirtioModel(name, resources.Add(Open()), Open, disk.Transport ?? settings.Transport));
            }
            catch (VirtioBlockException e)
            {
                throw new VmBuildException($"{name}: {e.Message}", e);
            }
        }

        if (settings.Console == ConsoleDevice.Virtio)
        {
            var output = io.VirtioConsole;
            VirtioConsoleDevice Create() => new(bytes => output?.Invoke(bytes));
            models.Add(new VirtioModel("console0", Create(), Create, settings.Transport));
        }

        if (settings.Rng)
        {
            // Host randomness, rate-limited so a guest cannot drain the host's entropy source at full speed.
            static VirtioRngDevice Create() => new(bytesPerSecond: RngBytesPerSecond);
            models.Add(new VirtioModel("rng0", resources.Add(Create()), Create, settings.Transport));
        }

        models.AddRange(NetDevices.Open(settings, vmName, io.Networks, resources, faults, nics));
        return models;
    }

    /// <summary>The PCI devices' blueprints and their MP-table interrupt entries.</summary>
    public static (List<DeviceBlueprint> Devices, List<MpPciInterrupt> Interrupts, List<VirtioPciSlot> Slots) Build(
        IReadOnlyList<VirtioModel> models,
        KvmVm vm,
        GuestMemory memory,
        SerialInputPort console,
        QueueWorkers workers,
        CompositeDisposable resources)
    {
        var root = new PciRoot();
        var devices = new List<DeviceBlueprint>
        {
            new("pci", _ => new PciConfigIo(root), [BusRange.Pio(Layout.PciConfigPort, PciConfigIo.RangeSize)]) { Kind = "pci-host" },
        };
        var interrupts = new List<MpPciInterrupt>();
        var slots = new List<VirtioPciSlot>();
        var bars = new PciBarAllocator(Layout.PciMmio32Start, Layout.PciMmio32Start + Layout.PciMmio32Size);

        var next = 0u;
        foreach (var (name, first, create, _) in models)
        {
            var gsi = Layout.FirstPciGsi + (next++ % Layout.PciGsiCount);
            var bar = bars.Allocate(VirtioPciLayout.BarSize);
            var slot = new VirtioPciSlot(name, (byte)gsi);
            slots.Add(slot);
            if (first is VirtioConsoleDevice)
            {
                console.RouteTo(name);
            }

            var number = root.AddDevice(slot);
            interrupts.Add(new MpPciInterrupt((byte)number, 0, (byte)gsi));

            var handles = new int[first.QueueCount];
            for (var q = 0; q < handles.Length; q++)
            {
                // A disk's passes wait for host I/O; a NIC's RX and TX queues each get a thread of their own too, so
                // receiving and transmitting run at once and never wait behind the console's or rng's passes.
                handles[q] = workers.Add(vm, name, q, bar + VirtioPciDevice.NotifyOffsetOf(q), blocksOnHostIo: first is VirtioBlockDevice or VirtioNetDevice);
            }

            var holder = resources.Add(new ModelHolder(first));
            devices.Add(new DeviceBlueprint(
                name,
                ctx =>
                {
                    var model = holder.Next(create);
                    // The IRQ actor's line carries MSI vectors too when its backend has them; else INTx only.
                    var device = new VirtioPciDevice(
                        ctx.Name, model, memory, ctx.Interrupt!, bar, (byte)gsi, msi: ctx.Interrupt as IMsiInterrupts)
                    {
                        Traffic = slot.Traffic,
                        QueueKickHandler = q =>
                        {
                            if ((uint)q < (uint)handles.Length)
                            {
                                workers.Signal(handles[q]);
                            }
                        },
                    };
                    slot.Attach(device);
                    return device;
                },
                [BusRange.Mmio(bar, VirtioPciLayout.BarSize)],
                IrqRequest.Level(gsi) with { MsiVectors = first.QueueCount + 1 })
            {
                Kind = KindOf(first),
            });
        }

        return (devices, interrupts, slots);
    }

    /// <summary>Config cycles of each slot go to its device's endpoint (once the VM's bus is built).</summary>
    public static void Bind(IReadOnlyList<VirtioPciSlot> slots, IReadOnlyList<DeviceEndpoint> endpoints)
    {
        foreach (var slot in slots)
        {
            slot.Bind(endpoints.First(e => e.Name == slot.Name));
        }
    }

    /// <summary>A virtio device model: its name, its first (validated) instance, how to build another, and its transport.</summary>
    internal sealed record VirtioModel(string Name, IVirtioDevice First, Func<IVirtioDevice> Create, VirtioTransportKind Transport = VirtioTransportKind.Pci);

    /// <summary>What a virtio device is, for <see cref="DeviceBlueprint.Kind"/> (the same over either transport).</summary>
    internal static string KindOf(IVirtioDevice model) => model switch
    {
        VirtioBlockDevice => "virtio-blk",
        VirtioConsoleDevice => "virtio-console",
        VirtioNetDevice => "virtio-net",
        _ => "virtio-rng",
    };

    /// <summary>virtio-rng rate limit (bytes per second; the bucket holds one second's worth).</summary>
    public const long RngBytesPerSecond = 1 << 20;

    /// <summary>
    /// The device model behind a virtio-pci function or virtio-mmio device: the first instance is built (and
    /// validated: disk images opened) while building the machine; each supervised restart builds a fresh one and
    /// releases the old one. The last one is released with the VM's resources.
    /// </summary>
    internal sealed class ModelHolder(IVirtioDevice first) : IDisposable
    {
        private readonly Lock _sync = new();
        private IVirtioDevice? _pending = first;
        private IVirtioDevice? _current;

        public IVirtioDevice Next(Func<IVirtioDevice> create)
        {
            lock (_sync)
            {
                // Release the failed instance first: a disk image is opened exclusively, so the new instance
                // could not open it while the old one still holds it.
                (_current as IDisposable)?.Dispose();
                _current = null;
                var model = _pending ?? create();
                _pending = null;
                _current = model;
                return model;
            }
        }

        public void Dispose()
        {
            lock (_sync)
            {
                (_pending as IDisposable)?.Dispose();
                (_current as IDisposable)?.Dispose();
                _pending = null;
                _current = null;
            }
        }
    }
}
