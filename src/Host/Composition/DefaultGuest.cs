using ActorVmm.Actors.Virtio;
using ActorVmm.Host.GuestConsole;
using ActorVmm.Host.Settings;

namespace ActorVmm.Host.Composition;

/// <summary>
/// The embedded default guest: Debian's stock kernel and the project's busybox initramfs, built by
/// <c>tools/guest/build-guest.sh</c> into <c>artifacts/guest</c>. Found through <c>ACTORVMM_GUEST_DIR</c>, or by
/// walking up from the executable to the checkout that built it.
/// </summary>
public static class DefaultGuest
{
    public const string KernelFile = "bzImage";
    public const string InitrdFile = "initramfs.cpio.gz";

    /// <summary>The command-line flag on which the default guest's init runs a shell on the console (tools/guest/init).</summary>
    public const string ShellFlag = "actorvmm.shell=1";

    /// <summary>
    /// <paramref name="vm"/> with <see cref="ShellFlag"/> added to its command line when the run is interactive: it
    /// boots the default guest (no kernel, no snapshot), its console is this process's stdio, stdin is a terminal and
    /// the command line names no <c>actorvmm.script</c> (a scripted run ends by itself) nor a shell flag already.
    /// Otherwise <paramref name="vm"/> unchanged.
    /// </summary>
    public static VmSettings WithShellOnTerminal(VmSettings vm, bool stdinIsTerminal)
    {
        ArgumentNullException.ThrowIfNull(vm);
        var interactive = stdinIsTerminal
            && string.IsNullOrEmpty(vm.Kernel)
            && vm.Restore is null
            && vm.Serial.Kind == SerialSpecKind.Stdio
            && !vm.Cmdline.Split(' ', StringSplitOptions.RemoveEmptyEntries)
                .Any(a => a.StartsWith("actorvmm.script=", StringComparison.Ordinal) || a.StartsWith("actorvmm.shell=", StringComparison.Ordinal));
        return interactive ? vm with { Cmdline = $"{vm.Cmdline.TrimEnd()} {ShellFlag}" } : vm;
    }

    /// <summary>The directory holding the default guest, or null with a one-line explanation.</summary>
    public static string? Locate(out string error)
    {
        error = string.Empty;
        var fromEnv = Environment.GetEnvironmentVariable("ACTORVMM_GUEST_DIR");
        if (!string.IsNullOrEmpty(fromEnv))
        {
            if (IsGuestDir(fromEnv))
            {
                return fromEnv;
            }

            error = $"ACTORVMM_GUEST_DIR={fromEnv} holds no {KernelFile} and {InitrdFile}";
            return null;
        }

        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, "artifacts", "guest");
            if (IsGuestDir(candidate))
            {
                return candidate;
            }
        }

        error = "no default guest found: build it with tools/guest/build-guest.sh (tools/run.sh does), or pass --kernel";
        return null;
    }

    private static bool IsGuestDir(string dir) =>
        File.Exists(Path.Combine(dir, KernelFile)) && File.Exists(Path.Combine(dir, InitrdFile));
}
