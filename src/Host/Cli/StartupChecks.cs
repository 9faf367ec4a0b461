using ActorVmm.Host.GuestConsole;
using ActorVmm.Actors.Settings;
using ActorVmm.Host.Settings;

namespace ActorVmm.Host.Cli;

/// <summary>
/// Checks of the host files settings name, done before anything starts: kernel and initrd readable, disks present
/// (and writable unless read-only), a snapshot to restore a directory, serial output and trace files creatable.
/// Throws <see cref="SettingsException"/>. These are <c>actorvmm run</c>'s: it cannot resume a VM that starts paused.
/// </summary>
public static class StartupChecks
{
    public static void Check(ActorVmmSettings settings)
    {
        var vm = settings.Vm;
        if (vm.StartPaused)
        {
            throw new SettingsException("start-paused: actorvmm run has nothing to resume the VM with (use actorvmm serve)", "actorvmm.vm.start-paused");
        }

        if (vm.Restore is { } restore)
        {
            // The kernel and initrd are the snapshot's (already in its memory): the keys are not used.
            CheckSnapshotDirectory(restore);
        }
        else
        {
            if (vm.Kernel is { } kernel)
            {
                CheckReadable("kernel", kernel, "actorvmm.vm.kernel");
            }

            if (vm.Initrd is { } initrd)
            {
                CheckReadable("initrd", initrd, "actorvmm.vm.initrd");
            }
        }

        foreach (var disk in vm.Disks)
        {
            CheckDisk(disk);
        }

        foreach (var (key, spec) in new[] { ("actorvmm.vm.serial", vm.Serial), ("actorvmm.vm.com2", vm.Com2), ("actorvmm.vm.com3", vm.Com3), ("actorvmm.vm.com4", vm.Com4) })
        {
            if (spec.Kind == SerialSpecKind.File)
            {
                CheckCreatable("serial output file", spec.Path!, key);
            }
        }

        foreach (var net in vm.Nets)
        {
            if (net.Pcap is { } pcap)
            {
                CheckCreatable("pcap file", pcap, "actorvmm.vm.nets");
            }
        }

        if (settings.Tracing.TraceFile is { } trace)
        {
            CheckCreatable("trace file", trace, "actorvmm.tracing.trace-file");
        }

        if (settings.Logging.File is { } log)
        {
            CheckCreatable("log file", log, "actorvmm.logging.file");
        }
    }

    private static void CheckReadable(string what, string path, string key)
    {
        if (Directory.Exists(path))
        {
            throw new SettingsException($"{what} is a directory: {path}", key);
        }

        if (!File.Exists(path))
        {
            throw new SettingsException($"{what} not found: {path}", key);
        }

        try
        {
            using var _ = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new SettingsException($"{what} not readable: {path}: {e.Message}", key, inner: e);
        }
    }

    /// <summary>Only that it is a directory: its files are checked when the snapshot is read, before anything starts.</summary>
    private static void CheckSnapshotDirectory(string path)
    {
        const string key = "actorvmm.vm.restore";
        if (File.Exists(path))
        {
            throw new SettingsException($"snapshot is a file, not a directory: {path}", key);
        }

        if (!Directory.Exists(path))
        {
            throw new SettingsException($"snapshot not found: {path}", key);
        }
    }

    private static void CheckDisk(DiskSettings disk)
    {
        const string key = "actorvmm.vm.disks";
        if (Directory.Exists(disk.Path))
        {
            throw new SettingsException($"disk is a directory: {disk.Path}", key);
        }

        if (!File.Exists(disk.Path))
        {
            throw new SettingsException($"disk not found: {disk.Path}", key);
        }

        try
        {
            using var _ = new FileStream(disk.Path, FileMode.Open, disk.ReadOnly ? FileAccess.Read : FileAccess.ReadWrite, FileShare.ReadWrite);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            var hint = disk.ReadOnly ? string.Empty : " (use PATH,ro or read-only = true for a read-only disk)";
            throw new SettingsException($"disk not {(disk.ReadOnly ? "readable" : "writable")}: {disk.Path}: {e.Message}{hint}", key, inner: e);
        }
    }

    private static void CheckCreatable(string what, string path, string key)
    {
        if (Directory.Exists(path))
        {
            throw new SettingsException($"{what} is a directory: {path}", key);
        }

        var directory = Path.GetDirectoryName(Path.GetFullPath(path));
        if (directory is not null && !Directory.Exists(directory))
        {
            throw new SettingsException($"{what}'s directory does not exist: {path}", key);
        }

        var existed = File.Exists(path);
        try
        {
            using (new FileStream(path, FileMode.OpenOrCreate, FileAccess.Write, FileShare.ReadWrite))
            {
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new SettingsException($"{what} not writable: {path}: {e.Message}", key, inner: e);
        }

        if (!existed)
        {
            File.Delete(path);
        }
    }
}
