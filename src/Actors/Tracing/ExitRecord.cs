using System.Runtime.InteropServices;

namespace ActorVmm.Actors.Tracing;

/// <summary>
/// What the vCPU thread writes per exit into its <see cref="ExitRing"/>: raw <see cref="ActorVmm.Kvm.Timing.CycleClock"/> ticks and numbers only (no
/// references, so no GC write barrier and no allocation); the writer thread turns it into a <see cref="TraceEvent"/>
/// (ticks to ns, device index to name).
/// </summary>
[StructLayout(LayoutKind.Sequential)]
internal struct ExitRecord
{
    /// <summary><see cref="ActorVmm.Kvm.Timing.CycleClock"/> timestamp when KVM_RUN returned.</summary>
    public long StartTicks;

    /// <summary>Ticks from KVM_RUN returning to the answer being ready.</summary>
    public long DurationTicks;

    /// <summary>Ticks a posted read waited in the device actor's mailbox.</summary>
    public long QueuedTicks;

    public ulong Address;

    public ulong RangeStart;

    public ulong Value;

    public int Count;

    /// <summary>Index of the device name in the tracer's name table.</summary>
    public int Device;

    public TraceEventKind Kind;

    public AccessPath Path;

    public byte Size;
}
