using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace ActorVmm.Kvm.Interop;

/// <summary>struct kvm_pit_state2: the in-kernel PIT's three channels (KVM_GET_PIT2 / KVM_SET_PIT2). 112 bytes.</summary>
[StructLayout(LayoutKind.Sequential)]
public struct KvmPitState2
{
    /// <summary>KVM_PIT_FLAGS_HPET_LEGACY: the HPET drives IRQ0 instead of the PIT.</summary>
    public const uint FlagHpetLegacy = 0x1;

    /// <summary>KVM_PIT_FLAGS_SPEAKER_DATA_ON.</summary>
    public const uint FlagSpeakerDataOn = 0x2;

    public KvmPitChannels Channels;
    public uint Flags;
    public KvmPitStateReserved Reserved;
}

/// <summary>struct kvm_pit_channel_state. 24 bytes.</summary>
[StructLayout(LayoutKind.Sequential)]
public struct KvmPitChannelState
{
    public uint Count;
    public ushort LatchedCount;
    public byte CountLatched;
    public byte StatusLatched;
    public byte Status;
    public byte ReadState;
    public byte WriteState;
    public byte WriteLatch;
    public byte RwMode;
    public byte Mode;
    public byte Bcd;
    public byte Gate;
    public long CountLoadTime;
}

/// <summary>kvm_pit_state2.channels[3].</summary>
[InlineArray(3)]
public struct KvmPitChannels
{
    private KvmPitChannelState _element0;
}

/// <summary>kvm_pit_state2.reserved[9].</summary>
[InlineArray(9)]
public struct KvmPitStateReserved
{
    private uint _element0;
}
