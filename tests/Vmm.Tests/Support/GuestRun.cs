using ActorVmm.Actors;
using ActorVmm.Host.Composition;
using ActorVmm.Actors.Settings;
using ActorVmm.Host.Settings;
using ActorVmm.Actors.Vm;
using Akka.Actor;
using Akka.Configuration;

namespace ActorVmm.Vmm.Tests.Support;

/// <summary>What one boot of the default guest produced: why it stopped, COM1's text and the virtio console's text.</summary>
public sealed record GuestOutcome(VmStopReason Reason, string Console, string VirtioConsole)
{
    /// <summary>The lines of COM1 that start with <paramref name="prefix"/>, prefix removed, trimmed.</summary>
    public IReadOnlyList<string> Lines(string prefix) =>
        Console.Split('\n')
            .Select(l => l.TrimEnd('\r'))
            .Where(l => l.StartsWith(prefix, StringComparison.Ordinal))
            .Select(l => l[prefix.Length..].Trim())
            .ToList();

    /// <summary>The value of the first COM1 line starting with <paramref name="prefix"/>, or null.</summary>
    public string? Value(string prefix) => Lines(prefix).FirstOrDefault();

    public string Tail => Console.Length <= 6000 ? Console : Console[^6000..];
}

/// <summary>Boots the default guest (tools/guest/build-guest.sh) through the whole actor pipeline and captures COM1.</summary>
public static class GuestRun
{
    /// <summary>Generous: the KVM tests run nested under TCG, where a boot takes tens of seconds.</summary>
    public static readonly TimeSpan Deadline = TimeSpan.FromSeconds(
        int.TryParse(Environment.GetEnvironmentVariable("ACTORVMM_TEST_BOOT_DEADLINE"), out var s) ? s : 480);

    public static readonly string BaseCmdline =
        "console=ttyS0 reboot=k panic=-1 i8042.noaux i8042.nomux i8042.nopnp i8042.dumbkbd no_timer_check tsc=reliable" + (Environment.GetEnvironmentVariable("ACTORVMM_TEST_EXTRA_CMDLINE") is { Length: > 0 } extra ? " " + extra : "");

    public static async Task<(VmStopReason Reason, string Console)> BootAsync(int cpus, string script, ulong memory = 256UL << 20)
    {
        var outcome = await BootAsync(cpus, script, vm => vm, memory);
        return (outcome.Reason, outcome.Console);
    }

    /// <summary>Boots with the VM settings changed by <paramref name="configure"/> (disks, rng, virtio console).</summary>
    public static async Task<GuestOutcome> BootAsync(int cpus, string script, Func<VmSettings, VmSettings> configure, ulong memory = 256UL << 20)
    {
        var (outcome, _) = await BootWithReportAsync(cpus, script, s => s with { Vm = configure(s.Vm) }, memory);
        return outcome;
    }

    /// <summary>Boots with all settings changed by <paramref name="configure"/>; also returns the run's report (faults, endpoints).</summary>
    public static async Task<(GuestOutcome Outcome, VmRunResult Run)> BootWithReportAsync(
        int cpus, string script, Func<ActorVmmSettings, ActorVmmSettings> configure, ulong memory = 256UL << 20)
    {
        var (outcome, run, _) = await BootAndStopAsync(cpus, script, configure, stopAfter: null, memory);
        return (outcome, run);
    }

    /// <summary>
    /// Boots like <see cref="BootWithReportAsync"/>; when <paramref name="stopAfter"/> is given, the host asks the VM to
    /// stop once COM1 shows its marker plus its delay (what Ctrl-C does). Returns how long that stop took (zero when
    /// the guest ended by itself first).
    /// </summary>
    public static Task<(GuestOutcome Outcome, VmRunResult Run, TimeSpan StopTook)> BootAndStopAsync(
        int cpus,
        string script,
        Func<ActorVmmSettings, ActorVmmSettings> configure,
        (string Marker, TimeSpan Delay)? stopAfter,
        ulong memory = 256UL << 20) =>
        BootAndStopAsync(cpus, script, configure, stopAfter, input: null, memory);

    /// <summary>
    /// As above; when <paramref name="input"/> is given, its text goes to the console (COM1's input, what a terminal
    /// types) once COM1's output satisfies its condition.
    /// </summary>
    public static async Task<(GuestOutcome Outcome, VmRunResult Run, TimeSpan StopTook)> BootAndStopAsync(
        int cpus,
        string script,
        Func<ActorVmmSettings, ActorVmmSettings> configure,
        (string Marker, TimeSpan Delay)? stopAfter,
        (Func<string, bool> When, string Text)? input,
        ulong memory = 256UL << 20)
    {
        var reference = SettingsLoader.Reference;
        var settings = configure(reference with
        {
            Vm = reference.Vm with
            {
                Cpus = cpus,
                MemoryBytes = memory,
                Kernel = null,
                Initrd = null,
                Cmdline = $"{BaseCmdline} actorvmm.script={script}",
            },
        });
        var capture = new SerialCapture();
        var hvc = new SerialCapture();
        var system = ActorSystem.Create("vmm-test", ConfigurationFactory.ParseString("akka.loglevel = WARNING\nakka.stdout-loglevel = WARNING"));
        try
        {
            using var deadline = new CancellationTokenSource(Deadline);
            var stopAsked = 0L;
            if (stopAfter is { } stop)
            {
                _ = Task.Run(async () =>
                {
                    while (!deadline.IsCancellationRequested && !capture.Text.Contains(stop.Marker, StringComparison.Ordinal))
                    {
                        await Task.Delay(50);
                    }

                    await Task.Delay(stop.Delay);
                    Interlocked.Exchange(ref stopAsked, System.Diagnostics.Stopwatch.GetTimestamp());
                    await deadline.CancelAsync();
                });
            }

            var io = new VmIo([capture.Write]) { VirtioConsole = hvc.Write };
            Action<SerialInputPort>? onStarted = input is { } typed
                ? port => _ = TypeAsync(port, capture, typed.When, typed.Text, deadline.Token)
                : null;
            var run = await VmRunner.RunWithReportAsync(system, settings, io, onStarted, deadline.Token);
            var asked = Interlocked.Read(ref stopAsked);
            var took = asked == 0 ? TimeSpan.Zero : System.Diagnostics.Stopwatch.GetElapsedTime(asked);
            return (new GuestOutcome(run.Reason, capture.Text, hvc.Text), run, took);
        }
        finally
        {
            await system.Terminate();
        }
    }

    /// <summary>Waits for COM1's output to satisfy <paramref name="when"/>, then sends <paramref name="text"/> as console input.</summary>
    private static async Task TypeAsync(SerialInputPort port, SerialCapture capture, Func<string, bool> when, string text, CancellationToken cancellation)
    {
        try
        {
            while (!when(capture.Text))
            {
                await Task.Delay(50, cancellation);
            }

            // The UART's receive FIFO takes what the guest has not read yet: send the rest as it drains.
            var bytes = System.Text.Encoding.ASCII.GetBytes(text);
            var sent = 0;
            while (sent < bytes.Length)
            {
                sent += port.Send(bytes.AsSpan(sent));
                if (sent < bytes.Length)
                {
                    await Task.Delay(20, cancellation);
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
    }
}
