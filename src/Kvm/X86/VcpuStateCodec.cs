using ActorVmm.Kvm.Interop;

namespace ActorVmm.Kvm.X86;

/// <summary>
/// Binary form of a <see cref="VcpuState"/>: the id, each struct as a length-prefixed blob of its kernel bytes, the
/// XSAVE area and MSRs as bounded blobs. Reading refuses a wrong size or a short stream with an
/// <see cref="InvalidDataException"/> naming the field; no length read from the stream allocates more than the bounds.
/// </summary>
public static class VcpuStateCodec
{
    /// <summary>The largest XSAVE area accepted (today's largest, with AMX, is about 11 KiB).</summary>
    public const int MaxXsaveBytes = 1 << 20;

    private const string Owner = "vCPU state";

    public static void Write(BinaryWriter w, VcpuState s)
    {
        ArgumentNullException.ThrowIfNull(w);
        ArgumentNullException.ThrowIfNull(s);
        if (s.Xsave.Length > MaxXsaveBytes || s.Msrs.Length > SnapshotMsrs.MaxMsrs)
        {
            throw new ArgumentException(
                $"vCPU {s.Id}: {s.Xsave.Length} XSAVE bytes and {s.Msrs.Length} MSRs exceed the codec's bounds", nameof(s));
        }

        w.Write(s.Id);
        StateBlob.WriteStruct(w, s.Regs);
        StateBlob.WriteStruct(w, s.Sregs);
        StateBlob.WriteBytes(w, s.Xsave);
        StateBlob.WriteStruct(w, s.Xcrs);
        StateBlob.WriteBytes(w, System.Runtime.InteropServices.MemoryMarshal.AsBytes(s.Msrs.AsSpan()));
        StateBlob.WriteStruct(w, s.Lapic);
        StateBlob.WriteStruct(w, s.Events);
        w.Write(s.MpState);
        StateBlob.WriteStruct(w, s.DebugRegs);
        w.Write(s.TscKhz);
    }

    public static VcpuState Read(BinaryReader r)
    {
        ArgumentNullException.ThrowIfNull(r);
        var id = StateBlob.ReadInt32(r, Owner, nameof(VcpuState.Id));
        if (id < 0)
        {
            throw new InvalidDataException($"{Owner}: field {nameof(VcpuState.Id)} is {id}, expected a vCPU id >= 0");
        }

        var regs = StateBlob.ReadStruct<KvmRegs>(r, Owner, nameof(VcpuState.Regs));
        var sregs = StateBlob.ReadStruct<KvmSregs>(r, Owner, nameof(VcpuState.Sregs));
        var xsave = StateBlob.ReadBytes(r, Owner, nameof(VcpuState.Xsave), MaxXsaveBytes);
        var xcrs = StateBlob.ReadStruct<KvmXcrs>(r, Owner, nameof(VcpuState.Xcrs));
        var msrs = StateBlob.ReadArray<KvmMsrEntry>(r, Owner, nameof(VcpuState.Msrs), SnapshotMsrs.MaxMsrs);
        var lapic = StateBlob.ReadStruct<KvmLapicState>(r, Owner, nameof(VcpuState.Lapic));
        var events = StateBlob.ReadStruct<KvmVcpuEvents>(r, Owner, nameof(VcpuState.Events));
        var mpState = StateBlob.ReadUInt32(r, Owner, nameof(VcpuState.MpState));
        var debugRegs = StateBlob.ReadStruct<KvmDebugRegs>(r, Owner, nameof(VcpuState.DebugRegs));
        var tscKhz = StateBlob.ReadUInt32(r, Owner, nameof(VcpuState.TscKhz));
        return new VcpuState(id, regs, sregs, xsave, xcrs, msrs, lapic, events, mpState, debugRegs, tscKhz);
    }
}
