using System.Text;
using ActorVmm.Devices;
using ActorVmm.Devices.Acpi;
using ActorVmm.Devices.Legacy;
using ActorVmm.Devices.Net;
using ActorVmm.Devices.Virtio;
using ActorVmm.TestSupport.Fakes;
using ActorVmm.TestSupport.Virtio;

namespace ActorVmm.Actors.Tests.Snapshots;

/// <summary>
/// Real device instances for the snapshot tests, one case per <see cref="IStatefulDevice"/> and
/// <see cref="IVirtioDevice"/> implementation in the Devices assembly: how to build one at power-on, and guest (and
/// host) accesses that leave it in a state other than power-on. A new implementation needs a case here (a test says so).
/// </summary>
internal sealed class SnapshotDeviceCases : IDisposable
{
    private const ulong BarAddress = 0xE000_8000;

    private readonly TestMemory _ram = new();
    private readonly List<IDisposable> _owned = [];
    private readonly string _image = Path.Combine(Path.GetTempPath(), $"actorvmm-snap-{Guid.NewGuid():N}.img");

    public SnapshotDeviceCases()
    {
        File.WriteAllBytes(_image, new byte[64 * 512]);
    }

    /// <summary>Stateful devices by type: a factory and what the guest did to it.</summary>
    public IReadOnlyDictionary<Type, (Func<IStatefulDevice> Create, Action<IStatefulDevice> Exercise)> Stateful =>
        new Dictionary<Type, (Func<IStatefulDevice>, Action<IStatefulDevice>)>
        {
            [typeof(Serial16550)] = (() => new Serial16550("com1", new RecordingInterruptLine(), _ => { }), ExerciseSerial),
            [typeof(I8042)] = (() => new I8042("i8042", () => { }), ExerciseI8042),
            [typeof(Cmos)] = (() => new Cmos("cmos", 128 << 20, 0, () => new DateTimeOffset(2026, 12, 4, 0, 0, 0, TimeSpan.Zero)), ExerciseCmos),
            [typeof(SystemControlPortB)] = (() => new SystemControlPortB(), d => Write(d, 0, 0x03)),
            [typeof(PortSink)] = (() => new PortSink("post", size: 4), d => ((IBusDevice)d).Write(2, [0x34, 0x12])),
            [typeof(FastA20Gate)] = (() => new FastA20Gate("a20", () => { }), d => Write(d, 0, 0x00)), // A20 off
            [typeof(AcpiPmDevice)] = (() => new AcpiPmDevice("acpi-pm", new RecordingInterruptLine(), () => { }, () => 0), ExerciseAcpiPm),
            [typeof(VirtioPciDevice)] = (CreateVirtioConsole, ExerciseVirtio),
        };

    /// <summary>
    /// Virtio device models by type: a factory and host input that leaves device state (where it keeps any). The
    /// caller disposes what it creates (a block device holds its image open exclusively).
    /// </summary>
    public IReadOnlyDictionary<Type, (Func<IVirtioDevice> Create, Action<IVirtioDevice> Exercise)> Virtio =>
        new Dictionary<Type, (Func<IVirtioDevice>, Action<IVirtioDevice>)>
        {
            [typeof(VirtioConsoleDevice)] = (() => new VirtioConsoleDevice(_ => { }), d => ((VirtioConsoleDevice)d).EnqueueInput("hello"u8)),
            [typeof(VirtioRngDevice)] = (() => new VirtioRngDevice(), _ => { }),
            [typeof(VirtioBlockDevice)] = (() => new VirtioBlockDevice(_image), _ => { }),
            [typeof(VirtioNetDevice)] = (() => new VirtioNetDevice(new IdlePort(), new MacAddress([0x52, 0x54, 0, 0, 0, 1])), _ => { }),
        };

    /// <summary>A virtio-pci function over an RNG without MSI-X (no MSI-X state, no device state).</summary>
    public VirtioPciDevice CreateVirtioRng()
    {
        var device = new VirtioPciDevice("rng0", Own(new VirtioRngDevice()), _ram.Memory, new RecordingInterruptLine(), BarAddress, irq: 10);
        device.QueueKickHandler = _ => { };
        return device;
    }

    public void ExerciseVirtio(IStatefulDevice device)
    {
        var pci = (VirtioPciDevice)device;
        var driver = new VirtioPciDriver(pci);
        var queues = Enumerable.Range(0, pci.QueueCount)
            .Select(i => new MockVirtqueue(_ram.Memory, TestMemory.RingBase(i), 64))
            .ToArray();
        if (pci.Msix is not null)
        {
            // Vector 0: config changes, vector 1: the queues; message address and data as Linux programs them.
            driver.Write32(VirtioPciLayout.MsixTableOffset, 0xFEE0_0000);
            driver.Write32(VirtioPciLayout.MsixTableOffset + 8, 0x41);
            driver.Write32(VirtioPciLayout.MsixTableOffset + 16, 0xFEE0_1000);
            driver.Write32(VirtioPciLayout.MsixTableOffset + 24, 0x42);
            driver.Write16(0x10, 0);
            pci.WriteConfig(pci.Msix.CapabilityOffset + 3, [0x80]); // MSI-X enable
        }

        driver.Initialize(queues);
        if (pci.Msix is not null)
        {
            for (var i = 0; i < queues.Length; i++)
            {
                driver.Write16(0x16, (ushort)i);
                driver.Write16(0x1A, 1);
            }
        }

        driver.Write16(0x16, 1);
        pci.AcceptInput("typed"u8);
    }

    public void Dispose()
    {
        foreach (var owned in _owned)
        {
            owned.Dispose();
        }

        _ram.Dispose();
        File.Delete(_image);
    }

    private static void Write(IStatefulDevice device, ulong offset, byte value) => ((IBusDevice)device).Write(offset, [value]);

    private static void ExerciseSerial(IStatefulDevice serial)
    {
        Write(serial, 3, 0x80); // DLAB
        Write(serial, 0, 0x0c);
        Write(serial, 1, 0x01);
        Write(serial, 3, 0x03);
        Write(serial, 2, 0x07);
        Write(serial, 1, 0x0f);
        Write(serial, 4, 0x0b);
        Write(serial, 7, 0x5a);
        ((Serial16550)serial).EnqueueInput(Encoding.ASCII.GetBytes("ab"));
    }

    private static void ExerciseI8042(IStatefulDevice controller)
    {
        Write(controller, I8042.CommandOffset, I8042.CmdWriteCommandByte);
        Write(controller, I8042.DataOffset, 0x47);
        Write(controller, I8042.DataOffset, I8042.KbdIdentify);
        Write(controller, I8042.PortBOffset, 0x03);
        Write(controller, I8042.CommandOffset, I8042.CmdWriteOutputPort);
    }

    private static void ExerciseAcpiPm(IStatefulDevice pm)
    {
        Write(pm, AcpiPmDevice.EnableOffset + 1, AcpiPmDevice.PwrBtnEn >> 8);
        Write(pm, AcpiPmDevice.ControlOffset + 1, 3 << (AcpiPmDevice.SlpTypShift - 8)); // SLP_TYP 3, no SLP_EN
        ((AcpiPmDevice)pm).AcceptInput([AcpiPmDevice.HostPowerButton]);
    }

    private static void ExerciseCmos(IStatefulDevice cmos)
    {
        Write(cmos, Cmos.IndexOffset, 0x8f); // NMI off, the shutdown status register
        Write(cmos, Cmos.DataOffset, 0x0a);
        Write(cmos, Cmos.IndexOffset, 0xb0);
        Write(cmos, Cmos.DataOffset, 0x5a);
    }

    private IStatefulDevice CreateVirtioConsole()
    {
        var device = new VirtioPciDevice(
            "console0", new VirtioConsoleDevice(_ => { }), _ram.Memory, new RecordingInterruptLine(), BarAddress, irq: 11,
            msi: new CountingMsi(2));
        device.QueueKickHandler = _ => { };
        return device;
    }

    private T Own<T>(T disposable)
        where T : IDisposable
    {
        _owned.Add(disposable);
        return disposable;
    }

    private sealed class CountingMsi(int vectors) : IMsiInterrupts
    {
        public int VectorCount => vectors;

        public bool SetMessage(int vector, MsiMessage message) => message.IsX86Interrupt;

        public void ClearMessage(int vector)
        {
        }

        public void Trigger(int vector)
        {
        }
    }

    /// <summary>A NIC's network side with nothing on it.</summary>
    private sealed class IdlePort : INetPort
    {
        public int PendingFrames => 0;

        public Action? FrameArrived { get; set; }

        public void Send(byte[] frame)
        {
        }

        public bool TryReceive([System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out byte[]? frame)
        {
            frame = null;
            return false;
        }

        public void SetGuestOffloads(ulong ackedFeatures)
        {
        }
    }
}
