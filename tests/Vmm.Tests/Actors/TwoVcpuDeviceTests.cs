using ActorVmm.Actors;
using ActorVmm.Actors.Bus;
using ActorVmm.Actors.Irq;
using ActorVmm.Actors.Settings;
using ActorVmm.Host.Settings;
using ActorVmm.Actors.Vm;
using ActorVmm.Devices;
using ActorVmm.Vmm.Tests.Support;
using Akka.Actor;
using Akka.Configuration;
using Iced.Intel;
using static Iced.Intel.AssemblerRegisters;

namespace ActorVmm.Vmm.Tests.Actors;

/// <summary>
/// Two vCPUs on real KVM drive device actors at once: each writes <see cref="Writes"/> bytes to its own device and
/// the same number to a shared one. Every device sees every write, and each vCPU's writes keep their order, also
/// on the shared device where the two streams interleave. vCPU 1 raises a flag in memory when done; vCPU 0 waits
/// for it and halts, which powers the VM off.
/// </summary>
[Trait("Category", "Kvm")]
public sealed class TwoVcpuDeviceTests
{
    private const int Writes = 100;
    private const ushort PortA = 0x520;
    private const ushort PortB = 0x530;
    private const ushort SharedPort = 0x540;
    private const byte Vcpu1Tag = 0x80;
    private const int DoneFlag = 0x600;

    [Fact]
    public async Task Two_vcpus_should_drive_two_device_actors_at_once_with_order_kept_per_vcpu()
    {
        using var vm = RealModeProgramVm.Create([
            a =>
            {
                Writer(a, PortA, tag: 0);
                var wait = a.CreateLabel();
                a.Label(ref wait);
                a.pause();
                a.cmp(__byte_ptr[DoneFlag], 1);
                a.jne(wait);
                a.hlt();
            },
            a =>
            {
                Writer(a, PortB, tag: Vcpu1Tag);
                a.mov(__byte_ptr[DoneFlag], 1);
                var spin = a.CreateLabel();
                a.Label(ref spin);
                a.pause();
                a.jmp(spin);
            },
        ]);
        var deviceA = new RecordingDevice("dev-a");
        var deviceB = new RecordingDevice("dev-b");
        var shared = new RecordingDevice("shared");

        VmStopReason reason;
        var system = ActorSystem.Create("two-vcpus", ConfigurationFactory.ParseString("akka.loglevel = WARNING\nakka.stdout-loglevel = WARNING"));
        try
        {
            var blueprint = new VmBlueprint(
                "two-vcpus",
                [.. vm.Vcpus],
                [
                    new DeviceBlueprint("dev-a", _ => deviceA, [BusRange.Pio(PortA, 1)]),
                    new DeviceBlueprint("dev-b", _ => deviceB, [BusRange.Pio(PortB, 1)]),
                    new DeviceBlueprint("shared", _ => shared, [BusRange.Pio(SharedPort, 1)]),
                ],
                new InMemoryIrqChip(),
                DeviceSettings.Default,
                SupervisionSettings.Default);
            var handle = VmActor.Spawn(system, blueprint);
            reason = await handle.Stopped.WaitAsync(GuestRun.Deadline, TestContext.Current.CancellationToken);
        }
        finally
        {
            await system.Terminate();
        }

        Assert.Equal(VmStopReasonKind.PowerOff, reason.Kind);
        var descending = Enumerable.Range(1, Writes).Reverse().ToList();
        Assert.Equal(descending.Select(i => (byte)i), deviceA.Written());
        Assert.Equal(descending.Select(i => (byte)(i | Vcpu1Tag)), deviceB.Written());
        var interleaved = shared.Written();
        Assert.Equal(2 * Writes, interleaved.Count);
        Assert.Equal(descending.Select(i => (byte)i), interleaved.Where(b => (b & Vcpu1Tag) == 0));
        Assert.Equal(descending.Select(i => (byte)(i | Vcpu1Tag)), interleaved.Where(b => (b & Vcpu1Tag) != 0));
    }

    /// <summary>Writes N..1 (tagged) to <paramref name="own"/>, each followed by the same byte to the shared port.</summary>
    private static void Writer(Assembler a, ushort own, byte tag)
    {
        var loop = a.CreateLabel();
        a.xor(ax, ax);
        a.mov(ds, ax);
        a.mov(cx, Writes);
        a.Label(ref loop);
        a.mov(al, cl);
        a.or(al, tag);
        a.mov(dx, own);
        a.@out(dx, al);
        a.mov(dx, SharedPort);
        a.@out(dx, al);
        a.loop(loop);
    }

    /// <summary>Records 1-byte writes; thread-safe because two vCPUs may reach it (the endpoint serialises them).</summary>
    private sealed class RecordingDevice(string name) : IBusDevice
    {
        private readonly Lock _lock = new();
        private readonly List<byte> _written = [];

        public string Name => name;

        public void Read(ulong offset, Span<byte> data) => data.Fill(0xff);

        public void Write(ulong offset, ReadOnlySpan<byte> data)
        {
            lock (_lock)
            {
                if (data.Length == 1)
                {
                    _written.Add(data[0]);
                }
            }
        }

        public IReadOnlyList<byte> Written()
        {
            lock (_lock)
            {
                return [.. _written];
            }
        }
    }
}
