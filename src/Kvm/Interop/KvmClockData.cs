using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace ActorVmm.Kvm.Interop;

/// <summary>struct kvm_clock_data: the VM's kvmclock in nanoseconds (KVM_GET_CLOCK / KVM_SET_CLOCK). 48 bytes.</summary>
[StructLayout(LayoutKind.Sequential)]
public struct KvmClockData
{
    /// <summary>KVM_CLOCK_TSC_STABLE (get only): the clock is the same on every vCPU.</summary>
    public const uint FlagTscStable = 2;

    /// <summary>KVM_CLOCK_REALTIME: <see cref="Realtime"/> is valid (on set: advance the clock by the time elapsed since).</summary>
    public const uint FlagRealtime = 1 << 2;

    /// <summary>KVM_CLOCK_HOST_TSC (get only): <see cref="HostTsc"/> is valid.</summary>
    public const uint FlagHostTsc = 1 << 3;

    public ulong Clock;
    public uint Flags;
    public uint Pad0;
    public ulong Realtime;
    public ulong HostTsc;
    public KvmClockDataPad Pad;
}

/// <summary>kvm_clock_data.pad[4].</summary>
[InlineArray(4)]
public struct KvmClockDataPad
{
    private uint _element0;
}
