using System.Diagnostics;
using ActorVmm.Actors;
using ActorVmm.Actors.Vm;
using ActorVmm.Devices.Legacy;
using ActorVmm.Host.Composition;
using ActorVmm.Host.Settings;
using ActorVmm.Vmm.Tests.Support;
using Akka.Actor;
using Akka.Configuration;

namespace ActorVmm.Vmm.Tests.Boot;

/// <summary>
/// The graceful stop: the host presses Ctrl-Alt-Del through the i8042's endpoint (as <c>POST /vms/{id}/stop</c>
/// does), the guest's keyboard driver turns it into SIGINT for init, and the default guest's init stops the machine.
/// </summary>
[Trait("Category", "Kvm")]
public sealed class CtrlAltDelTests
{
    /// <summary>Generous for the nested runner (TCG); the figure is printed.</summary>
    private static readonly TimeSpan StopBound = TimeSpan.FromSeconds(120);

    [Fact]
    public async Task Ctrl_Alt_Del_through_the_i8042_should_make_the_default_guest_stop_the_machine()
    {
        var reference = SettingsLoader.Reference;
        var settings = reference with
        {
            Vm = reference.Vm with
            {
                Cpus = 1,
                MemoryBytes = 256UL << 20,
                Kernel = null,
                Initrd = null,
                Cmdline = $"{GuestRun.BaseCmdline} actorvmm.script=idle",
            },
        };
        var capture = new SerialCapture();
        var system = ActorSystem.Create("vmm-test", ConfigurationFactory.ParseString("akka.loglevel = WARNING\nakka.stdout-loglevel = WARNING"));
        try
        {
            var machine = VmBuilder.Build(settings, new VmIo([capture.Write]));
            var handle = VmActor.Spawn(system, machine.Blueprint, "vm0");
            var i8042 = machine.Blueprint.Bus!.Endpoints.Single(e => e.Name == "i8042");
            var booted = Stopwatch.StartNew();
            while (!capture.Text.Contains("idle: up", StringComparison.Ordinal))
            {
                if (handle.Stopped.IsCompleted || booted.Elapsed > GuestRun.Deadline)
                {
                    handle.RequestStop("test: the guest did not come up");
                    Assert.Fail($"the guest did not reach its idle script ({(await handle.Stopped).Message}):\n{Tail(capture.Text)}");
                }

                await Task.Delay(50, TestContext.Current.CancellationToken);
            }

            var pressed = Stopwatch.StartNew();
            Assert.Equal(1, i8042.HostInput([I8042.HostCtrlAltDel]));
            if (await Task.WhenAny(handle.Stopped, Task.Delay(StopBound, TestContext.Current.CancellationToken)) != handle.Stopped)
            {
                handle.RequestStop("test: Ctrl-Alt-Del did not stop the guest");
                await handle.Stopped;
                Assert.Fail($"the guest did not stop within {StopBound} of Ctrl-Alt-Del:\n{Tail(capture.Text)}");
            }

            var reason = await handle.Stopped;
            var took = pressed.Elapsed;
            Assert.True(reason.Kind is VmStopReasonKind.Reset or VmStopReasonKind.PowerOff, $"{reason.Kind}: {reason.Message}\n{Tail(capture.Text)}");
            Assert.True(capture.Text.Contains("ActorVmm guest init: Ctrl-Alt-Del, stopping the machine", StringComparison.Ordinal), $"init did not handle it ({reason.Message}):\n{Tail(capture.Text)}");
            Assert.DoesNotContain("ActorVmm guest init: done", capture.Text, StringComparison.Ordinal);
            Assert.Equal(0, i8042.DroppedInput);
            Console.Error.WriteLine($"ctrl-alt-del-figures: boot-to-idle={booted.Elapsed - took:g} press-to-stop={took.TotalMilliseconds:F0}ms reason={reason.Kind}");
        }
        finally
        {
            await system.Terminate();
        }
    }

    private static string Tail(string text) => text.Length <= 4000 ? text : text[^4000..];
}
