using ActorVmm.Actors.Machine;
using ActorVmm.Actors.Settings;
using ActorVmm.Actors.Vm;
using Akka.Actor;
using Akka.Configuration;

namespace ActorVmm.Vmm.Tests.Support;

/// <summary>Boots the default guest (tools/guest/build-guest.sh) through the whole actor pipeline and captures COM1.</summary>
public static class GuestRun
{
    /// <summary>Generous: the KVM tests run nested under TCG, where a boot takes tens of seconds.</summary>
    public static readonly TimeSpan Deadline = TimeSpan.FromSeconds(
        int.TryParse(Environment.GetEnvironmentVariable("ACTORVMM_TEST_BOOT_DEADLINE"), out var s) ? s : 480);

    public const string BaseCmdline =
        "console=ttyS0 reboot=k panic=-1 i8042.noaux i8042.nomux i8042.nopnp i8042.dumbkbd no_timer_check tsc=reliable";

    public static async Task<(VmStopReason Reason, string Console)> BootAsync(int cpus, string script, ulong memory = 256UL << 20)
    {
        var reference = SettingsLoader.Reference;
        var settings = reference with
        {
            Vm = reference.Vm with
            {
                Cpus = cpus,
                MemoryBytes = memory,
                Kernel = null,
                Initrd = null,
                Cmdline = $"{BaseCmdline} actorvmm.script={script}",
            },
        };
        var capture = new SerialCapture();
        var system = ActorSystem.Create("vmm-test", ConfigurationFactory.ParseString("akka.loglevel = WARNING\nakka.stdout-loglevel = WARNING"));
        try
        {
            using var deadline = new CancellationTokenSource(Deadline);
            var reason = await VmLauncher.RunAsync(system, settings, new MachineIo([capture.Write]), cancellation: deadline.Token);
            return (reason, capture.Text);
        }
        finally
        {
            await system.Terminate();
        }
    }
}
