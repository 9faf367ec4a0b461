using System.Text;
using ActorVmm.Actors;
using ActorVmm.Host.Serve;
using ActorVmm.Vmm.Tests.Support;
using Akka.Actor;
using Akka.Configuration;

namespace ActorVmm.Vmm.Tests.Boot;

/// <summary>
/// The default guest with the ACPI tables: it powers the machine off through S5 (PM1a_CNT), a kernel panic reaches
/// the VMM through pvpanic (exit code 3 even with <c>panic=-1</c>), and the graceful stop presses the ACPI power
/// button, which the guest's button driver and busybox acpid turn into a power-off.
/// </summary>
[Trait("Category", "Kvm")]
public sealed class AcpiPowerTests
{
    [Fact]
    public async Task Guest_poweroff_should_end_the_VM_as_a_poweroff_with_exit_code_0()
    {
        var (reason, console) = await GuestRun.BootAsync(1, "poweroff");

        Assert.True(reason.Kind == VmStopReasonKind.PowerOff, $"stopped with {reason}; console:\n{Tail(console)}");
        Assert.Contains("ACPI S5", reason.Message, StringComparison.Ordinal);
        Assert.Equal(0, reason.ExitCode);
        Assert.Equal("poweroff", ServedVm.ReasonName(reason.Kind));
        Assert.Contains("poweroff: powering off", console, StringComparison.Ordinal);
        Assert.DoesNotContain("ActorVmm guest init: done", console, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Guest_kernel_panic_should_end_the_VM_with_exit_code_3_even_with_panic_minus_1()
    {
        Assert.Contains(" panic=-1 ", GuestRun.BaseCmdline + " ", StringComparison.Ordinal);

        var (reason, console) = await GuestRun.BootAsync(1, "panic");

        Assert.True(reason.Kind == VmStopReasonKind.GuestPanic, $"stopped with {reason}; console:\n{Tail(console)}");
        Assert.Equal(3, reason.ExitCode);
        Assert.Equal("guest-panic", ServedVm.ReasonName(reason.Kind));
        Assert.Contains("panic: pvpanic bound=1", console, StringComparison.Ordinal);
        Assert.Contains("Kernel panic", console, StringComparison.Ordinal);
        Assert.DoesNotContain("panic: still alive", console, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Graceful_stop_should_press_the_power_button_and_the_guest_should_power_off()
    {
        var ct = TestContext.Current.CancellationToken;
        var system = ActorSystem.Create("acpi-test", ConfigurationFactory.ParseString("akka.loglevel = WARNING\nakka.stdout-loglevel = WARNING"));
        try
        {
            await using var service = new VmService(system);
            await service.CreateAsync("vm", $$"""{"cpus":1,"memory":"256M","cmdline":"{{GuestRun.BaseCmdline}} actorvmm.script=idle"}""", ct);
            await service.StartAsync("vm", ct);
            Assert.True(
                await ProcessCounts.EventuallyAsync(() => Text(service).Contains("idle: up", StringComparison.Ordinal), GuestRun.Deadline),
                "the guest did not reach its idle script:\n" + Tail(Text(service)));

            var stopped = await service.StopAsync("vm", TimeSpan.FromSeconds(120), ct);

            var console = Text(service);
            Assert.True(stopped.Exit is { Reason: "poweroff", Code: 0 }, $"stopped with {stopped.Exit}; console:\n{Tail(console)}");
            Assert.Contains("ActorVmm guest init: power button, powering off", console, StringComparison.Ordinal);
            Assert.DoesNotContain("Ctrl-Alt-Del, stopping the machine", console, StringComparison.Ordinal);
        }
        finally
        {
            await system.Terminate();
        }
    }

    private static string Text(VmService service) => Encoding.UTF8.GetString(service.ConsoleTail("vm", 1 << 20));

    private static string Tail(string text) => text.Length <= 4000 ? text : text[^4000..];
}
