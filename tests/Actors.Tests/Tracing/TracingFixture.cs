using ActorVmm.Actors;
using ActorVmm.Actors.Bus;
using ActorVmm.Actors.Irq;
using ActorVmm.Actors.Settings;
using ActorVmm.Actors.Tracing;
using ActorVmm.Actors.Vm;
using ActorVmm.Devices;
using ActorVmm.Host.Settings;
using ActorVmm.Host.Tracing;
using ActorVmm.Kvm;
using ActorVmm.TestSupport.Fakes;
using Akka.Actor;

namespace ActorVmm.Actors.Tests.Tracing;

/// <summary>A device that raises its interrupt on every write and reads back the last byte written.</summary>
public sealed class InterruptingDevice(IInterruptLine? line) : IBusDevice
{
    private byte _last;

    public string Name => "irqdev";

    public void Read(ulong offset, Span<byte> data) => data.Fill(_last);

    public void Write(ulong offset, ReadOnlySpan<byte> data)
    {
        _last = data[0];
        line?.Trigger();
    }
}

/// <summary>The known exit stream the tracing specs run, and helpers to run a VM with a tracer.</summary>
public static class TracingFixture
{
    public const ushort PostPort = 0x80;
    public const ushort IrqPort = 0x70;
    public const ushort UnclaimedPort = 0x99;
    public const ulong MmioBase = 0xd000_0000;
    public const uint Gsi = 5;

    public static readonly TimeSpan Generous = TimeSpan.FromSeconds(20);

    /// <summary>
    /// PIO out/in to "post", an out to "irqdev" (raises GSI 5), MMIO write/read to "mmio" (offset 0x10), PIO out/in to
    /// nobody, then HLT: 8 exits, 1 interrupt.
    /// </summary>
    public static ScriptedVcpu Script(int id = 0) => Feed(new ScriptedVcpu(id));

    /// <summary>Appends the script's exits to <paramref name="vcpu"/>.</summary>
    public static ScriptedVcpu Feed(ScriptedVcpu vcpu) => vcpu
        .Then(new VmExit(VmExitKind.IoOut, PostPort, 1), [0x2a])
        .Then(new VmExit(VmExitKind.IoIn, PostPort, 1))
        .Then(new VmExit(VmExitKind.IoOut, IrqPort, 1), [0x07])
        .Then(new VmExit(VmExitKind.MmioWrite, MmioBase + 0x10, 4), [1, 2, 3, 4])
        .Then(new VmExit(VmExitKind.MmioRead, MmioBase + 0x10, 4))
        .Then(new VmExit(VmExitKind.IoOut, UnclaimedPort, 1), [0x5a])
        .Then(new VmExit(VmExitKind.IoIn, UnclaimedPort, 1))
        .Then(new VmExit(VmExitKind.Hlt));

    public static IReadOnlyList<DeviceBlueprint> Devices(Func<IBusDevice>? post = null, Func<IBusDevice>? mmio = null) =>
    [
        new DeviceBlueprint("post", _ => post?.Invoke() ?? new RecordingDevice("post"), [BusRange.Pio(PostPort, 1)]),
        new DeviceBlueprint("irqdev", ctx => new InterruptingDevice(ctx.Interrupt), [BusRange.Pio(IrqPort, 2)], IrqRequest.Edge(Gsi)),
        new DeviceBlueprint("mmio", _ => mmio?.Invoke() ?? new RecordingDevice("mmio"), [BusRange.Mmio(MmioBase, 0x1000)]),
    ];

    public static VmBlueprint Blueprint(IReadOnlyList<IVcpu> vcpus, VmTracer? tracer, IReadOnlyList<DeviceBlueprint>? devices = null) =>
        new VmBlueprint(
            "traced",
            vcpus,
            devices ?? Devices(),
            new InMemoryIrqChip(),
            new DeviceSettings(TimeSpan.FromSeconds(30)),
            new SupervisionSettings(10, TimeSpan.FromMinutes(1), RestartStateSource.Saved, BudgetExceededPolicy.StopVm,
                new Dictionary<string, SupervisionAction> { ["default"] = SupervisionAction.Restart }))
        {
            Tracer = tracer,
        };

    /// <summary>
    /// Runs the VM to its stop, then completes the tracer (trace file closed). With <paramref name="whenInstalled"/>,
    /// waits until every device instance is installed for inline use and then calls it (feed the script there, so
    /// no early access races a device actor's start).
    /// </summary>
    public static async Task<VmStopReason> RunAsync(ActorSystem system, VmBlueprint blueprint, Action? whenInstalled = null)
    {
        var vm = VmActor.Spawn(system, blueprint, $"traced-{Guid.NewGuid():N}");
        if (whenInstalled is not null)
        {
            var deadline = DateTime.UtcNow + Generous;
            while (true)
            {
                var status = await vm.Actor.Ask<VmProtocol.Status>(VmProtocol.GetStatus.Instance, Generous);
                if (status.Devices.All(e => e.InlineDevice is not null) || DateTime.UtcNow > deadline)
                {
                    break;
                }

                await Task.Delay(10);
            }

            whenInstalled();
        }

        var reason = await vm.Stopped.WaitAsync(Generous);
        if (blueprint.Tracer is not null)
        {
            await blueprint.Tracer.CompleteAsync().WaitAsync(Generous);
        }

        return reason;
    }

    public static string TempFile(string extension)
    {
        var dir = Path.Combine(Path.GetTempPath(), "actorvmm-tracing-tests");
        Directory.CreateDirectory(dir);
        return Path.Combine(dir, $"{Guid.NewGuid():N}{extension}");
    }
}
