using System.Runtime.InteropServices;
using ActorVmm.Kvm.Interop;
using ActorVmm.Kvm.X86;

namespace ActorVmm.Actors.Snapshots;

/// <summary>
/// The per-vCPU blob of a snapshot: its KVM state (<see cref="VcpuStateCodec"/>) and the CPUID table it ran with,
/// compared on restore (a host whose KVM offers other features must not resume the guest). And the VM's KVM blob.
/// </summary>
public static class VcpuBlob
{
    /// <summary>More CPUID entries than any KVM reports (KVM_MAX_CPUID_ENTRIES is 256).</summary>
    public const int MaxCpuidEntries = 1024;

    public static byte[] Encode(VcpuState state, ReadOnlySpan<KvmCpuidEntry2> cpuid)
    {
        using var stream = new MemoryStream();
        using (var writer = new BinaryWriter(stream))
        {
            VcpuStateCodec.Write(writer, state);
            writer.Write(cpuid.Length);
            writer.Write(MemoryMarshal.AsBytes(cpuid));
        }

        return stream.ToArray();
    }

    /// <exception cref="InvalidDataException">The blob is not a vCPU state of this format.</exception>
    public static (VcpuState State, KvmCpuidEntry2[] Cpuid) Decode(byte[] blob)
    {
        using var reader = new BinaryReader(new MemoryStream(blob, writable: false));
        try
        {
            var state = VcpuStateCodec.Read(reader);
            var count = reader.ReadInt32();
            if (count is < 0 or > MaxCpuidEntries)
            {
                throw new InvalidDataException($"vCPU state: {count} CPUID entries (at most {MaxCpuidEntries})");
            }

            var cpuid = new KvmCpuidEntry2[count];
            var bytes = reader.ReadBytes(count * Marshal.SizeOf<KvmCpuidEntry2>());
            if (bytes.Length != count * Marshal.SizeOf<KvmCpuidEntry2>())
            {
                throw new InvalidDataException("vCPU state: the CPUID table is truncated");
            }

            bytes.CopyTo(MemoryMarshal.AsBytes(cpuid.AsSpan()));
            return (state, cpuid);
        }
        catch (EndOfStreamException)
        {
            throw new InvalidDataException("vCPU state: truncated");
        }
    }

    public static byte[] EncodeVm(VmKvmState state)
    {
        using var stream = new MemoryStream();
        using (var writer = new BinaryWriter(stream))
        {
            VmKvmStateCodec.Write(writer, state);
        }

        return stream.ToArray();
    }

    /// <exception cref="InvalidDataException">The blob is not a VM state of this format.</exception>
    public static VmKvmState DecodeVm(byte[] blob)
    {
        using var reader = new BinaryReader(new MemoryStream(blob, writable: false));
        try
        {
            return VmKvmStateCodec.Read(reader);
        }
        catch (EndOfStreamException)
        {
            throw new InvalidDataException("VM state: truncated");
        }
    }
}
