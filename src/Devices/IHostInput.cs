namespace ActorVmm.Devices;

/// <summary>
/// A device that takes input from the host (a terminal's keystrokes). Called like a register access: one at a time,
/// through the device's endpoint, never directly from the host's reader thread.
/// </summary>
public interface IHostInput
{
    /// <summary>Takes <paramref name="input"/> for the guest; returns how many bytes were accepted (the rest is dropped and counted).</summary>
    int AcceptInput(ReadOnlySpan<byte> input);
}
