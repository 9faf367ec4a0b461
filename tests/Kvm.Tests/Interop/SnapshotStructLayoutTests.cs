using System.Runtime.CompilerServices;
using ActorVmm.Kvm.Interop;
using Xunit;

namespace ActorVmm.Kvm.Tests.Interop;

/// <summary>
/// Sizes and offsets of the snapshot structs against &lt;linux/kvm.h&gt; / &lt;asm/kvm.h&gt; on x86-64 (printed by a C
/// program compiled with gcc against linux-libc-dev's headers; sizeof/offsetof).
/// </summary>
public class SnapshotStructLayoutTests
{
    private static int Offset<TStruct, TField>(ref TStruct s, ref TField field) =>
        (int)Unsafe.ByteOffset(ref Unsafe.As<TStruct, byte>(ref s), ref Unsafe.As<TField, byte>(ref field));

    [Fact]
    public void KvmXcrs_should_match_kernel_layout()
    {
        var s = default(KvmXcrs);
        Assert.Equal(392, Unsafe.SizeOf<KvmXcrs>());
        Assert.Equal(16, Unsafe.SizeOf<KvmXcr>());
        Assert.Equal(0, Offset(ref s, ref s.NrXcrs));
        Assert.Equal(4, Offset(ref s, ref s.Flags));
        Assert.Equal(8, Offset(ref s, ref s.Xcrs));
        Assert.Equal(8 + 16, Offset(ref s, ref s.Xcrs[1]));
        Assert.Equal(8 + 16 + 8, Offset(ref s, ref s.Xcrs[1].Value));
        Assert.Equal(264, Offset(ref s, ref s.Padding));
    }

    [Fact]
    public void KvmVcpuEvents_should_match_kernel_layout()
    {
        var s = default(KvmVcpuEvents);
        Assert.Equal(64, Unsafe.SizeOf<KvmVcpuEvents>());
        Assert.Equal(0, Offset(ref s, ref s.ExceptionInjected));
        Assert.Equal(3, Offset(ref s, ref s.ExceptionPending));
        Assert.Equal(4, Offset(ref s, ref s.ExceptionErrorCode));
        Assert.Equal(8, Offset(ref s, ref s.InterruptInjected));
        Assert.Equal(11, Offset(ref s, ref s.InterruptShadow));
        Assert.Equal(12, Offset(ref s, ref s.NmiInjected));
        Assert.Equal(16, Offset(ref s, ref s.SipiVector));
        Assert.Equal(20, Offset(ref s, ref s.Flags));
        Assert.Equal(24, Offset(ref s, ref s.SmiSmm));
        Assert.Equal(27, Offset(ref s, ref s.SmiLatchedInit));
        Assert.Equal(28, Offset(ref s, ref s.TripleFaultPending));
        Assert.Equal(29, Offset(ref s, ref s.Reserved));
        Assert.Equal(55, Offset(ref s, ref s.ExceptionHasPayload));
        Assert.Equal(56, Offset(ref s, ref s.ExceptionPayload));
    }

    [Fact]
    public void KvmDebugRegs_should_match_kernel_layout()
    {
        var s = default(KvmDebugRegs);
        Assert.Equal(128, Unsafe.SizeOf<KvmDebugRegs>());
        Assert.Equal(0, Offset(ref s, ref s.Db));
        Assert.Equal(24, Offset(ref s, ref s.Db[3]));
        Assert.Equal(32, Offset(ref s, ref s.Dr6));
        Assert.Equal(40, Offset(ref s, ref s.Dr7));
        Assert.Equal(48, Offset(ref s, ref s.Flags));
        Assert.Equal(56, Offset(ref s, ref s.Reserved));
    }

    [Fact]
    public void KvmIrqchip_should_match_kernel_layout()
    {
        var s = default(KvmIrqchip);
        Assert.Equal(520, Unsafe.SizeOf<KvmIrqchip>());
        Assert.Equal(0, Offset(ref s, ref s.ChipId));
        Assert.Equal(4, Offset(ref s, ref s.Pad));
        Assert.Equal(8, Offset(ref s, ref s.Chip));
    }

    [Fact]
    public void KvmPitState2_should_match_kernel_layout()
    {
        var s = default(KvmPitState2);
        var c = default(KvmPitChannelState);
        Assert.Equal(112, Unsafe.SizeOf<KvmPitState2>());
        Assert.Equal(24, Unsafe.SizeOf<KvmPitChannelState>());
        Assert.Equal(0, Offset(ref s, ref s.Channels));
        Assert.Equal(48, Offset(ref s, ref s.Channels[2]));
        Assert.Equal(72, Offset(ref s, ref s.Flags));
        Assert.Equal(76, Offset(ref s, ref s.Reserved));
        Assert.Equal(4, Offset(ref c, ref c.LatchedCount));
        Assert.Equal(6, Offset(ref c, ref c.CountLatched));
        Assert.Equal(14, Offset(ref c, ref c.Bcd));
        Assert.Equal(15, Offset(ref c, ref c.Gate));
        Assert.Equal(16, Offset(ref c, ref c.CountLoadTime));
    }

    [Fact]
    public void KvmClockData_should_match_kernel_layout()
    {
        var s = default(KvmClockData);
        Assert.Equal(48, Unsafe.SizeOf<KvmClockData>());
        Assert.Equal(0, Offset(ref s, ref s.Clock));
        Assert.Equal(8, Offset(ref s, ref s.Flags));
        Assert.Equal(12, Offset(ref s, ref s.Pad0));
        Assert.Equal(16, Offset(ref s, ref s.Realtime));
        Assert.Equal(24, Offset(ref s, ref s.HostTsc));
        Assert.Equal(32, Offset(ref s, ref s.Pad));
    }
}
