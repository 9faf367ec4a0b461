using Akka.Actor;
using Akka.Event;

namespace ActorVmm.Actors.Vm;

/// <summary>Snapshots of a paused VM, written on the VM actor's thread (the vCPUs are parked; nothing else waits on it).</summary>
public sealed partial class VmActor
{
    private void OnSnapshot(string directory)
    {
        if (_state != VmState.Paused || _command is not null)
        {
            var why = _state == VmState.Paused ? $"busy ({_command!.Kind})" : _state.ToString().ToLowerInvariant();
            Sender.Tell(new VmProtocol.Failed($"VM {_blueprint.Name} is {why}: pause it before a snapshot", _state));
            return;
        }

        if (_blueprint.Machine is not { } machine)
        {
            Sender.Tell(new VmProtocol.Failed($"VM {_blueprint.Name} has no KVM machine to snapshot", _state));
            return;
        }

        try
        {
            var result = VmSnapshotWriter.Write(directory, machine, _blueprint.Vcpus, _bus.Endpoints);
            _log.Info("VM {0}: snapshot in {1} ({2} bytes of state, {3} of {4} RAM bytes written) in {5:F0} ms",
                _blueprint.Name, result.Directory, result.StateBytes, result.MemoryWrittenBytes, result.MemoryBytes, result.Took.TotalMilliseconds);
            Sender.Tell(new VmProtocol.SnapshotTaken(result));
        }
        catch (Exception ex) when (VmSnapshotWriter.IsExpected(ex))
        {
            _log.Warning("VM {0}: snapshot into {1} failed: {2}", _blueprint.Name, directory, ex.Message);
            Sender.Tell(new VmProtocol.SnapshotFailed($"snapshot of VM {_blueprint.Name} failed: {FirstLine(ex.Message)}"));
        }
    }

    private static string FirstLine(string message)
    {
        var end = message.IndexOfAny(['\r', '\n']);
        return end < 0 ? message : message[..end];
    }
}
