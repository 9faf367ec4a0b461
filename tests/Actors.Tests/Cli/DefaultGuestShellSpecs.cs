using ActorVmm.Host.Composition;
using ActorVmm.Host.GuestConsole;
using ActorVmm.Host.Settings;
using Xunit;

namespace ActorVmm.Actors.Tests.Cli;

public class DefaultGuestShellSpecs
{
    private static readonly VmSettings Default = SettingsLoader.Load().Vm;

    [Fact]
    public void Default_guest_on_a_terminal_should_get_the_shell_flag()
    {
        var vm = DefaultGuest.WithShellOnTerminal(Default, stdinIsTerminal: true);

        Assert.Equal($"{Default.Cmdline} {DefaultGuest.ShellFlag}", vm.Cmdline);
    }

    [Fact]
    public void Redirected_stdin_should_leave_the_command_line_alone()
    {
        Assert.Same(Default, DefaultGuest.WithShellOnTerminal(Default, stdinIsTerminal: false));
    }

    [Theory]
    [InlineData("console=ttyS0 actorvmm.script=boot")]
    [InlineData("console=ttyS0 actorvmm.shell=0")]
    [InlineData("console=ttyS0 actorvmm.shell=1")]
    public void A_script_or_a_shell_flag_already_given_should_leave_the_command_line_alone(string cmdline)
    {
        var vm = Default with { Cmdline = cmdline };

        Assert.Same(vm, DefaultGuest.WithShellOnTerminal(vm, stdinIsTerminal: true));
    }

    [Fact]
    public void A_kernel_of_ones_own_should_leave_the_command_line_alone()
    {
        var vm = Default with { Kernel = "/boot/vmlinuz" };

        Assert.Same(vm, DefaultGuest.WithShellOnTerminal(vm, stdinIsTerminal: true));
    }

    [Fact]
    public void A_console_not_on_stdio_should_leave_the_command_line_alone()
    {
        var vm = Default with { Serial = SerialSpec.None };

        Assert.Same(vm, DefaultGuest.WithShellOnTerminal(vm, stdinIsTerminal: true));
    }

    [Fact]
    public void A_restored_snapshot_should_leave_the_command_line_alone()
    {
        var vm = Default with { Restore = "snapshot-dir" };

        Assert.Same(vm, DefaultGuest.WithShellOnTerminal(vm, stdinIsTerminal: true));
    }
}
