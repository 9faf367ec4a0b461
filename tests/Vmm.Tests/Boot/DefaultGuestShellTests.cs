using ActorVmm.Actors;
using ActorVmm.Actors.Vm;
using ActorVmm.Host.Composition;
using ActorVmm.Vmm.Tests.Support;

namespace ActorVmm.Vmm.Tests.Boot;

/// <summary>
/// The default guest's interactive mode (<c>actorvmm.shell=1</c>, what <c>actorvmm run</c> adds on a terminal): init
/// runs a shell on the console, what is typed reaches it, and the machine powers off (ACPI S5) when the shell exits.
/// </summary>
[Trait("Category", "Kvm")]
public sealed class DefaultGuestShellTests
{
    private const string ShellStarted = "ActorVmm guest init: shell on the console";

    [Fact]
    public async Task Default_guest_with_the_shell_flag_should_run_what_the_console_types_and_power_off_when_the_shell_exits()
    {
        var (outcome, _, _) = await GuestRun.BootAndStopAsync(
            cpus: 1,
            script: string.Empty,
            s => s with { Vm = s.Vm with { Cmdline = $"{GuestRun.BaseCmdline} {DefaultGuest.ShellFlag}" } },
            stopAfter: null,
            input: (text => AfterShellStarted(text).Contains("# ", StringComparison.Ordinal), "echo hi-from-shell; exit\n"));

        var console = outcome.Console;
        var report = $"stopped with {outcome.Reason}; console:\n{outcome.Tail}";
        Assert.True(console.Contains(ShellStarted, StringComparison.Ordinal), report);
        // The shell's own output line, not the echo of the typed command.
        Assert.True(AfterShellStarted(console).Split('\n').Any(l => l.TrimEnd('\r') == "hi-from-shell"), report);
        Assert.True(console.Contains("ActorVmm guest init: shell ended, powering off", StringComparison.Ordinal), report);
        Assert.DoesNotContain("ActorVmm guest init: done", console, StringComparison.Ordinal);
        Assert.True(outcome.Reason.Kind == VmStopReasonKind.PowerOff, report);
        Assert.Equal(0, outcome.Reason.ExitCode);
    }

    private static string AfterShellStarted(string console)
    {
        var at = console.IndexOf(ShellStarted, StringComparison.Ordinal);
        return at < 0 ? string.Empty : console[(at + ShellStarted.Length)..];
    }
}
