using ActorVmm.Actors.Vm;
using ActorVmm.Host.Settings;

namespace ActorVmm.Host.Serve;

public sealed partial class VmService
{
    /// <summary>
    /// Checks the VM is paused and <paramref name="dir"/> is usable (a relative path is the server's: made absolute
    /// here), then has the VM write its snapshot; the gate keeps a pause, resume or stop from crossing it.
    /// </summary>
    public async Task<SnapshotInfo> SnapshotAsync(string id, string dir, CancellationToken cancellation = default)
    {
        var vm = Find(id);
        await vm.Gate.WaitAsync(CancellationToken.None).ConfigureAwait(false);
        try
        {
            if (vm.State != VmStates.Paused)
            {
                throw VmServiceException.Conflict(vm.State == VmStates.Running
                    ? $"VM {id} is running: pause it before a snapshot"
                    : $"VM {id} is {vm.State}: only a paused VM can be snapshotted");
            }

            var directory = SnapshotDirectory(dir);
            VmSnapshotResult result;
            try
            {
                result = await vm.Handle!.SnapshotAsync(directory, cancellation).ConfigureAwait(false);
            }
            catch (VmStateException e)
            {
                throw VmServiceException.Conflict($"VM {id}: {SettingsLoader.FirstLine(e.Message)}");
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException)
            {
                throw VmServiceException.BadRequest($"VM {id}: snapshot into {directory} failed: {SettingsLoader.FirstLine(e.Message)}", e);
            }

            return new SnapshotInfo(id, result.Directory, result.StateBytes, result.MemoryBytes, result.MemoryWrittenBytes, result.Took.TotalMilliseconds, result.WaitingRequests);
        }
        finally
        {
            vm.Gate.Release();
        }
    }

    /// <summary>The absolute directory; 400 when it is empty, a file, or a directory with something in it.</summary>
    internal static string SnapshotDirectory(string dir)
    {
        if (string.IsNullOrWhiteSpace(dir))
        {
            throw VmServiceException.BadRequest("dir must name a directory for the snapshot");
        }

        string full;
        try
        {
            full = Path.GetFullPath(dir);
        }
        catch (Exception e) when (e is ArgumentException or NotSupportedException or PathTooLongException)
        {
            throw VmServiceException.BadRequest($"dir is not a usable path: {SettingsLoader.FirstLine(e.Message)}", e);
        }

        if (File.Exists(full))
        {
            throw VmServiceException.BadRequest($"dir is a file, not a directory: {full}");
        }

        bool occupied;
        try
        {
            occupied = Directory.Exists(full) && Directory.EnumerateFileSystemEntries(full).Any();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw VmServiceException.BadRequest($"dir is not readable: {full}: {SettingsLoader.FirstLine(e.Message)}", e);
        }

        if (occupied)
        {
            throw VmServiceException.BadRequest($"dir is not empty: {full} (a snapshot needs a new or empty directory)");
        }

        return full;
    }
}
