using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace ActorVmm.Kvm.Interop;

/// <summary>struct kvm_pit_config. 64 bytes.</summary>
[StructLayout(LayoutKind.Sequential)]
public struct KvmPitConfig
{
    /// <summary>KVM_PIT_SPEAKER_DUMMY: port 0x61 handled as a dummy speaker in the kernel.</summary>
    public const uint SpeakerDummy = 1;

    public uint Flags;
    public KvmPitPad Pad;
}

/// <summary>kvm_pit_config.pad[15].</summary>
[InlineArray(15)]
public struct KvmPitPad
{
    private uint _element0;
}
