using ActorVmm.Actors;
using ActorVmm.Actors.Bus;
using ActorVmm.Actors.Faults;
using ActorVmm.Actors.Irq;
using ActorVmm.Actors.Net;
using ActorVmm.Actors.Settings;
using ActorVmm.Host.Settings;
using ActorVmm.Actors.Vcpu;
using ActorVmm.Actors.Vm;
using ActorVmm.Devices;
using ActorVmm.Devices.Acpi;
using ActorVmm.Devices.Legacy;
using ActorVmm.Devices.Net;
using ActorVmm.Devices.Virtio;
using ActorVmm.Kvm;
using ActorVmm.Kvm.Acpi;
using ActorVmm.Kvm.Boot;
using ActorVmm.Kvm.Interop;
using ActorVmm.Kvm.Linux;
using ActorVmm.Kvm.Memory;
using ActorVmm.Kvm.X86;
using ActorVmm.Actors.Virtio;

namespace ActorVmm.Host.Composition;

/// <summary>
/// A VM ready to spawn: its blueprint (owning every KVM resource), the host ends of its ports, and its virtqueue
/// workers (start them with the VM's bus once the VM actor exists: <see cref="QueueWorkers.Start"/>).
/// </summary>
public sealed record BuiltVm(
    VmBlueprint Blueprint, SerialInputPort Console, KernelLoadResult? Kernel, InitrdLoadResult? Initrd, QueueWorkers Workers,
    FaultInjector Faults)
{
    /// <summary>The module serving /dev/kvm when it is not VT-x or AMD-V (e.g. kvm_pvm); null for a hardware KVM.</summary>
    public string? SoftwareKvm { get; init; }

    /// <summary>The virtio-pci functions (their traffic counters), by device name.</summary>
    public IReadOnlyList<VirtioPciSlot> PciSlots { get; init; } = [];

    /// <summary>The virtio-mmio devices: name, window and GSI (what the DSDT announces).</summary>
    public IReadOnlyList<VirtioMmioPlacement> MmioDevices { get; init; } = [];

    /// <summary>What each virtio device's queues completed (restarts included), by device name, over either transport.</summary>
    public IReadOnlyDictionary<string, VirtqueueTraffic> VirtioTraffic { get; init; } = new Dictionary<string, VirtqueueTraffic>();

    /// <summary>The NICs (net0, net1, ...), in order.</summary>
    public IReadOnlyList<BuiltNic> Nics { get; init; } = [];
}

/// <summary>A NIC of a built VM: its port (counters, link, faults) and its MAC.</summary>
public sealed record BuiltNic(NetPort Port, MacAddress Mac);

/// <summary>
/// Builds an x86-64 PC for KVM from settings: guest memory with the 32-bit gap, in-kernel irqchip and PIT, the
/// kernel, initrd, zero page, ACPI tables and MP table in memory, configured vCPUs (the BSP in long mode at the kernel's
/// entry, the APs waiting for INIT/SIPI), the platform devices, PCI bus 0 with the virtio-pci devices the settings
/// ask for (<see cref="PciDevices"/>) and the virtio-mmio ones (<see cref="VirtioMmioDevices"/>, announced in the
/// DSDT). Everything it opens is owned by the blueprint's
/// resources, or released here when building fails.
/// <para>
/// With <c>restore</c> set it builds the snapshot's machine instead: RAM maps the snapshot's memory file copy-on-write
/// (pages load on first touch), no image is loaded, each vCPU and the irqchip, PIT and clock get their saved state,
/// and each device's first instance starts from its saved state.
/// </para>
/// </summary>
public static class VmBuilder
{
    /// <summary>The COM ports by index (serial0 = COM1 ...): first port and ISA IRQ.</summary>
    private static readonly (ushort Port, uint Irq)[] ComPorts =
    [
        (Layout.Com1Port, Layout.Com1Irq), (Layout.Com2Port, Layout.Com2Irq),
        (Layout.Com3Port, Layout.Com1Irq), (Layout.Com4Port, Layout.Com2Irq),
    ];

    /// <summary>Platform devices the PC gained with ACPI; older snapshots restore without them.</summary>
    private static readonly string[] AddedWithAcpi = ["acpi-pm", "pvpanic"];

    private static readonly KvmCap[] RequiredCaps =
    [
        KvmCap.Irqchip, KvmCap.UserMemory, KvmCap.SetTssAddr, KvmCap.ExtCpuid, KvmCap.Pit2, KvmCap.Irqfd,
        KvmCap.Ioeventfd, KvmCap.SetIdentityMapAddr, KvmCap.IrqfdResample,
    ];

    public static BuiltVm Build(ActorVmmSettings settings, VmIo io, string vmName = "vm0")
    {
        ArgumentNullException.ThrowIfNull(settings);
        var restore = settings.Vm.Restore is { Length: > 0 } snapshot ? SnapshotSource.Open(snapshot, settings.Vm) : null;
        var vmSettings = NetDevices.ResolveMacs(restore?.Settings ?? settings.Vm);
        var (kernelPath, initrdPath) = restore is null ? ResolveImages(vmSettings) : (vmSettings.Kernel ?? string.Empty, vmSettings.Initrd);
        var resources = new CompositeDisposable();
        try
        {
            var faults = new FaultInjector(settings.Faults) { ReadTimeout = settings.Devices.ReadTimeout };
            var nics = new List<BuiltNic>();
            var models = PciDevices.OpenModels(vmSettings, io, resources, faults, vmName, nics);
            var pciModels = models.Where(m => m.Transport == VirtioTransportKind.Pci).ToList();
            var mmioModels = models.Where(m => m.Transport == VirtioTransportKind.Mmio).ToList();
            VirtioMmioDevices.Check(mmioModels, pciModels.Count);
            var kvm = resources.Add(KvmSystem.Open());
            var softwareKvm = KvmBackend.SoftwareBackend();

            foreach (var cap in RequiredCaps)
            {
                kvm.RequireExtension(cap);
            }

            if (vmSettings.Cpus > kvm.MaxVcpus)
            {
                throw new VmBuildException($"{vmSettings.Cpus} vCPUs asked for, but this KVM allows at most {kvm.MaxVcpus}");
            }

            var topology = vmSettings.CpuTopology;
            if (topology.Count != vmSettings.Cpus)
            {
                throw new VmBuildException($"topology {topology} is {topology.Count} vCPUs, not the {vmSettings.Cpus} asked for");
            }

            if (!topology.IsValid(out var topologyError))
            {
                throw new VmBuildException($"topology {topology}: {topologyError}");
            }

            if (topology.MaxApicId >= kvm.MaxVcpuId)
            {
                throw new VmBuildException($"topology {topology} needs APIC (KVM vCPU) ids up to {topology.MaxApicId}, but this KVM allows ids below {kvm.MaxVcpuId}");
            }

            StartupProbe.Mark("machine: device models, /dev/kvm");
            var vm = resources.Add(kvm.CreateVm());
            vm.SetTssAddress(Layout.KvmTssAddress);
            vm.SetIdentityMapAddress(Layout.KvmIdentityMapAddress);
            vm.CreateIrqchip();
            vm.CreatePit2();

            var ram = Layout.ArchMemoryRegions(vmSettings.MemoryBytes);
            restore?.CheckMemory(ram);
            // MADV_HUGEPAGE, as QEMU does for its RAM: on a host whose THP setting is "madvise" (Ubuntu's default,
            // and this workplace's machine), only madvised memory gets transparent huge pages, and KVM maps a guest
            // 2 MiB page with one nested-paging entry only when a huge page backs it. (The nested runner's kernel
            // has THP "always": there it changed nothing measurable.) With hugepages set, explicit hugetlb pages instead,
            // reserved here (a short pool is refused now, not at a guest page fault); a snapshot's memory file cannot be
            // mapped onto them, so its restore reads the file in.
            var memory = (restore, vmSettings.HugePages) switch
            {
                (null, HugePages.Off) => GuestMemory.Create(ram, hugePages: true),
                (null, var pages) => GuestMemory.Create(ram, pages),
                (_, HugePages.Off) => GuestMemory.MapFile(ram, restore.MemoryFile),
                (_, var pages) => GuestMemory.LoadFile(ram, restore.MemoryFile, pages),
            };
            resources.Add(memory);
            vm.MapMemory(memory);
            StartupProbe.Mark("machine: VM, irqchip, guest memory");

            KernelLoadResult? kernel = null;
            InitrdLoadResult? initrd = null;
            if (restore is null)
            {
                kernel = KernelLoader.Load(memory, kernelPath);
                initrd = initrdPath is null ? null : InitrdLoader.Load(memory, initrdPath, kernel);
                StartupProbe.Mark("machine: kernel and initrd loaded");
            }

            var console = new SerialInputPort();
            var workers = resources.Add(new QueueWorkers(memory) { Affinity = vmSettings.PinIo });
            var (pciDevices, pciInterrupts, pciSlots) = PciDevices.Build(pciModels, vm, memory, console, workers, resources);
            var (mmioDevices, mmioPlacements, traffic) = VirtioMmioDevices.Build(
                mmioModels, pciModels.Count, vm, memory, console, workers, resources);
            foreach (var slot in pciSlots)
            {
                traffic[slot.Name] = slot.Traffic;
            }

            var bootState = restore is null
                ? WriteBootTables(memory, kernel!, initrd, vmSettings, topology, ram, PresentComPorts(io), pciInterrupts, mmioPlacements)
                : null;

            StartupProbe.Mark("machine: PCI devices, boot tables");
            var supportedCpuid = kvm.GetSupportedCpuid();
            var tscDeadlineTimer = kvm.CheckExtension(KvmCap.TscDeadlineTimer) > 0;
            var vcpus = new List<IVcpu>();
            var cpuid = new List<KvmCpuidEntry2[]>();
            for (var id = 0; id < vmSettings.Cpus; id++)
            {
                var vcpu = resources.Add(vm.CreateVcpu(id, topology.ApicId(id)));
                cpuid.Add(X86VcpuSetup.Configure(vcpu, supportedCpuid, topology, hasIrqchip: true, tscDeadlineTimer));
                if (restore is not null)
                {
                    vcpu.RestoreState(restore.VcpuState(id, cpuid[id]));
                }
                else if (id == 0)
                {
                    X86BootRegisters.Apply(vcpu, bootState!);
                }

                vcpus.Add(vcpu);
            }

            if (restore is not null)
            {
                vm.RestoreState(restore.VmState());
            }

            var devices = PlatformDevices(vmSettings, ram, io, console);
            devices.AddRange(pciDevices);
            devices.AddRange(mmioDevices);
            if (restore is not null)
            {
                // A snapshot taken before the PC had ACPI has no acpi-pm or pvpanic: its guest never looks for them.
                devices.RemoveAll(d => AddedWithAcpi.Contains(d.Name) && !restore.HasDevice(d.Name));
                var saved = restore.DeviceStates(devices.Select(d => d.Name));
                devices = [.. devices.Select(d => d with { RestoreState = saved[d.Name] })];
            }

            faults.Validate(devices.Select(d => d.Name));
            var wrapped = faults.Wrap(devices);
            var bus = VmBus.Build(wrapped, settings.Devices);
            console.Bind(bus.Endpoints);
            PciDevices.Bind(pciSlots, bus.Endpoints);
            var blueprint = new VmBlueprint(
                vmName,
                vcpus,
                wrapped,
                new KvmIrqChip(vm) { ResampleAffinity = vmSettings.PinIo },
                settings.Devices,
                settings.Supervision,
                Resources: resources)
            {
                Bus = bus,
                OnDevicesStarted = started =>
                {
                    workers.Start(started.Endpoints);
                    if (restore is not null)
                    {
                        workers.SignalAll();
                    }
                },
                StartPaused = settings.Vm.StartPaused,
                VcpuCpus = vmSettings.PinVcpus,
                Machine = new VmMachine(
                    vm,
                    memory,
                    SnapshotSettings.Render(vmSettings, kernelPath, initrdPath),
                    SnapshotMsrs.Select(kvm.GetMsrIndexList()),
                    cpuid,
                    [.. vmSettings.Disks.Select((d, i) => new VmDisk($"disk{i}", Path.GetFullPath(d.Path), d.ReadOnly))]),
            };
            return new BuiltVm(blueprint, console, kernel, initrd, workers, faults) {
                SoftwareKvm = softwareKvm,
                PciSlots = pciSlots,
                VirtioTraffic = traffic,
                MmioDevices = mmioPlacements,
                Nics = nics,
            };
        }
        catch (Exception ex)
        {
            resources.Dispose();
            throw ex switch
            {
                VmBuildException or KvmUnavailableException => ex,
                InvalidDataException => new VmBuildException($"snapshot {settings.Vm.Restore}: {ex.Message}", ex),
                VirtioBlockException or BusConflictException or ArgumentException => new VmBuildException(ex.Message, ex),
                BootException or GuestMemoryException or KvmException or IOException or UnauthorizedAccessException =>
                    new VmBuildException(ex.Message, ex),
                _ => ex,
            };
        }
    }

    /// <summary>
    /// For a cold boot: the ACPI tables, the zero page pointing at them, the MP table (for guests booted with
    /// <c>acpi=off</c>), and the long-mode page tables and GDT. Both tables list the topology's APIC ids; vCPUs beyond
    /// what the MP table holds get none, the MADT alone describes them (a guest with acpi=off then sees one CPU).
    /// </summary>
    private static X86BootCpuState WriteBootTables(
        GuestMemory memory, KernelLoadResult kernel, InitrdLoadResult? initrd, VmSettings vm, CpuTopology topology,
        IReadOnlyList<(GuestAddress Start, ulong Size)> ram, IReadOnlyList<int> comPorts, IReadOnlyList<MpPciInterrupt> pciInterrupts,
        IReadOnlyList<VirtioMmioPlacement> mmio)
    {
        var apicIds = topology.ApicIds();
        var acpi = new AcpiPlatform([.. apicIds.Select(id => (uint)id)])
        {
            SerialPorts = [.. comPorts.Select(i => new AcpiSerialPort(ComPorts[i].Port, ComPorts[i].Irq))],
            PciRoutes = [.. pciInterrupts.Select(p => new AcpiPciRoute(p.Device, p.Pin, p.IoApicInput))],
            VirtioMmio = [.. mmio.Select(d => new AcpiMmioDevice(d.Base, d.Size, d.Gsi, LevelTriggered: true))],
            PvPanic = true,
            IoApicId = MpTable.IoApicId(apicIds),
        };
        var rsdp = AcpiTables.Write(memory, acpi);
        ZeroPage.Write(memory, kernel, initrd, vm.Cmdline, ram, rsdp);
        var mpTable = new MpTableConfig(topology.Count) { ApicIds = apicIds, PciInterrupts = pciInterrupts };
        if (MpTable.Fits(mpTable))
        {
            MpTable.Write(memory, mpTable);
        }

        return LongModeSetup.Write(memory, kernel);
    }

    /// <summary>The COM ports the VM has (indices into <see cref="ComPorts"/>): COM1 always, the others when given an output.</summary>
    private static List<int> PresentComPorts(VmIo io) =>
        [.. Enumerable.Range(0, ComPorts.Length).Where(i => i == 0 || io.Serial(i) is not null)];

    private static (string Kernel, string? Initrd) ResolveImages(VmSettings vm)
    {
        if (!string.IsNullOrEmpty(vm.Kernel))
        {
            return (vm.Kernel, string.IsNullOrEmpty(vm.Initrd) ? null : vm.Initrd);
        }

        var dir = DefaultGuest.Locate(out var error) ?? throw new VmBuildException(error);
        var initrd = string.IsNullOrEmpty(vm.Initrd) ? Path.Combine(dir, DefaultGuest.InitrdFile) : vm.Initrd;
        return (Path.Combine(dir, DefaultGuest.KernelFile), initrd);
    }

    private static List<DeviceBlueprint> PlatformDevices(
        VmSettings vm, IReadOnlyList<(GuestAddress Start, ulong Size)> ram, VmIo io, SerialInputPort console)
    {
        var below4G = ram.Where(r => r.Start.Value < Layout.MmioGapEnd).Aggregate(0UL, (s, r) => s + r.Size);
        var above4G = ram.Where(r => r.Start.Value >= Layout.MmioGapEnd).Aggregate(0UL, (s, r) => s + r.Size);
        var devices = new List<DeviceBlueprint>();
        foreach (var i in PresentComPorts(io))
        {
            var output = io.Serial(i);
            devices.Add(new DeviceBlueprint(
                $"serial{i}",
                ctx => new Serial16550(ctx.Name, ctx.Interrupt!, output ?? (_ => { })),
                [BusRange.Pio(ComPorts[i].Port, (ushort)Serial16550.RangeSize)],
                IrqRequest.Edge(ComPorts[i].Irq)) { Kind = "serial" });
        }

        devices.Add(new DeviceBlueprint(
            "i8042",
            ctx => new I8042(ctx.Name, () => ctx.Vm.RequestStop(
                new VmStopReason(VmStopReasonKind.Reset, "the guest reset the machine (i8042 command 0xfe)")), ctx.Interrupt),
            [BusRange.Pio(Layout.I8042Port, (ushort)I8042.RangeSize)],
            IrqRequest.Edge(Layout.KeyboardIrq)) { Kind = "i8042" });
        devices.Add(new DeviceBlueprint(
            "cmos",
            ctx => new Cmos(ctx.Name, below4G, above4G),
            [BusRange.Pio(Layout.CmosPort, (ushort)Cmos.RangeSize)]) { Kind = "cmos" });
        devices.Add(new DeviceBlueprint(
            "fast-a20",
            ctx => new FastA20Gate(ctx.Name, () => ctx.Vm.RequestStop(
                new VmStopReason(VmStopReasonKind.Reset, "the guest reset the machine (port 0x92 fast reset)"))),
            [BusRange.Pio(Layout.FastA20Port, (ushort)FastA20Gate.RangeSize)]) { Kind = "fast-a20" });
        devices.Add(new DeviceBlueprint(
            "acpi-pm",
            ctx => new AcpiPmDevice(ctx.Name, ctx.Interrupt!, () => ctx.Vm.RequestStop(
                new VmStopReason(VmStopReasonKind.PowerOff, "the guest powered off (ACPI S5)"))),
            [BusRange.Pio(Layout.AcpiPm1aEventPort, (ushort)AcpiPmDevice.RangeSize)],
            IrqRequest.Level(Layout.SciIrq)) { Kind = "acpi-pm" });
        devices.Add(new DeviceBlueprint(
            "pvpanic",
            ctx => new PvPanic(ctx.Name, () => ctx.Vm.RequestStop(
                new VmStopReason(VmStopReasonKind.GuestPanic, "guest panic (pvpanic)"))),
            [BusRange.Pio(Layout.PvPanicPort, (ushort)PvPanic.RangeSize)]) { Kind = "pvpanic" });
        foreach (var (name, port) in new[] { ("post", Layout.PostCodePort), ("port-ed", Layout.IoDelayPort), ("dma-page87", Layout.DmaPage87Port) })
        {
            devices.Add(new DeviceBlueprint(name, ctx => new PortSink(ctx.Name), [BusRange.Pio(port, 1)]) { Kind = "port-sink" });
        }

        return devices;
    }
}
