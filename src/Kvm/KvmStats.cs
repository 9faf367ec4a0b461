using System.Runtime.InteropServices;
using System.Text;
using ActorVmm.Kvm.Interop;

namespace ActorVmm.Kvm;

/// <summary>struct kvm_stats_header: the start of a KVM binary statistics fd. 24 bytes.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct KvmStatsHeader
{
    public uint Flags;

    /// <summary>Bytes of each descriptor's name (with its NUL), and of the id string.</summary>
    public uint NameSize;
    public uint NumDesc;
    public uint IdOffset;
    public uint DescOffset;
    public uint DataOffset;
}

/// <summary>struct kvm_stats_desc without its flexible name (<see cref="KvmStatsHeader.NameSize"/> bytes follow). 16 bytes.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct KvmStatsDesc
{
    public uint Flags;
    public short Exponent;

    /// <summary>Number of u64 values (1 for counters, the bucket count for histograms).</summary>
    public ushort Size;

    /// <summary>Byte offset of the values from the header's data offset.</summary>
    public uint Offset;
    public uint BucketSize;
}

/// <summary>KVM_STATS_TYPE_* (the low 4 bits of a descriptor's flags).</summary>
public enum KvmStatType
{
    Cumulative = 0,
    Instant = 1,
    Peak = 2,
    LinearHistogram = 3,
    LogHistogram = 4,
}

/// <summary>One statistic a KVM stats fd describes (name, type, unit flags, where its values lie).</summary>
public readonly record struct KvmStatDescriptor(string Name, uint Flags, short Exponent, int Size, uint Offset, uint BucketSize)
{
    public KvmStatType Type => (KvmStatType)(Flags & 0xF);

    /// <summary>True for histograms (several buckets); <see cref="KvmStatsFd.Read"/> skips them.</summary>
    public bool IsHistogram => Type is KvmStatType.LinearHistogram or KvmStatType.LogHistogram || Size != 1;
}

/// <summary>Reads <paramref name="buffer"/>.Length bytes at <paramref name="offset"/> (fewer at the end); returns how many, or -errno.</summary>
internal delegate int PositionalRead(long offset, Span<byte> buffer);

/// <summary>
/// A KVM binary statistics fd (KVM_GET_STATS_FD on a vCPU or VM fd): its id string and descriptors are read once
/// when opened, the values on each <see cref="Read"/>. The fd holds a reference to the VM, so it stays readable
/// after the vCPU fd is closed. Everything the fd says about its own layout is bounds-checked before use.
/// </summary>
public sealed partial class KvmStatsFd : IDisposable
{
    /// <summary>The kernel uses 48 (KVM_STATS_NAME_SIZE); anything beyond this is not a stats fd we understand.</summary>
    internal const int MaxNameSize = 4096;
    internal const int MaxDescriptors = 1 << 16;
    internal const int MaxDataBytes = 1 << 24;

    private readonly KvmFd? _fd;
    private readonly PositionalRead _read;
    private readonly uint _dataOffset;
    private readonly int _dataLength;

    private KvmStatsFd(KvmFd? fd, PositionalRead read)
    {
        _fd = fd;
        _read = read;
        (Id, Descriptors, _dataOffset, _dataLength) = ParseLayout(read);
    }

    /// <summary>The fd's id string, e.g. <c>kvm-1234/vcpu-0</c>.</summary>
    public string Id { get; }

    /// <summary>Every statistic, in the kernel's order (histograms included).</summary>
    public IReadOnlyList<KvmStatDescriptor> Descriptors { get; }

    /// <summary>KVM_GET_STATS_FD on <paramref name="owner"/> (a vCPU or VM fd).</summary>
    /// <exception cref="KvmException">The kernel has no binary stats (before 5.14), or the fd's layout is malformed.</exception>
    internal static KvmStatsFd Open(KvmFd owner)
    {
        var raw = KvmIoctl.Invoke(owner, KvmIoctls.GetStatsFd);
        var fd = new KvmFd(raw);
        try
        {
            return new KvmStatsFd(fd, (offset, buffer) => PRead(fd, offset, buffer));
        }
        catch
        {
            fd.Dispose();
            throw;
        }
    }

    /// <summary>A stats "fd" over any positional reader (tests feed it crafted bytes).</summary>
    internal static KvmStatsFd FromReader(PositionalRead read) => new(null, read);

    /// <summary>The current value of every single-valued statistic (counters, instants, peaks), by name.</summary>
    /// <exception cref="KvmException">The read failed or came back short.</exception>
    public IReadOnlyDictionary<string, ulong> Read()
    {
        var data = new byte[_dataLength];
        ReadExactly(_read, _dataOffset, data, "data block");
        var values = new Dictionary<string, ulong>(StringComparer.Ordinal);
        foreach (var desc in Descriptors)
        {
            if (!desc.IsHistogram)
            {
                values[desc.Name] = BitConverter.ToUInt64(data, (int)desc.Offset);
            }
        }

        return values;
    }

    public void Dispose() => _fd?.Dispose();

    private static (string Id, List<KvmStatDescriptor> Descriptors, uint DataOffset, int DataLength) ParseLayout(PositionalRead read)
    {
        var header = default(KvmStatsHeader);
        ReadExactly(read, 0, MemoryMarshal.AsBytes(new Span<KvmStatsHeader>(ref header)), "header");
        if (header.NameSize is 0 or > MaxNameSize)
        {
            throw Malformed($"name size {header.NameSize} (expected 1..{MaxNameSize})");
        }

        if (header.NumDesc > MaxDescriptors)
        {
            throw Malformed($"{header.NumDesc} descriptors (at most {MaxDescriptors})");
        }

        var id = new byte[header.NameSize];
        ReadExactly(read, header.IdOffset, id, "id");

        var stride = Marshal.SizeOf<KvmStatsDesc>() + (int)header.NameSize;
        var block = new byte[(long)stride * header.NumDesc];
        ReadExactly(read, header.DescOffset, block, "descriptors");

        var descriptors = new List<KvmStatDescriptor>((int)header.NumDesc);
        long dataEnd = 0;
        for (var i = 0; i < (int)header.NumDesc; i++)
        {
            var entry = block.AsSpan(i * stride, stride);
            var raw = MemoryMarshal.Read<KvmStatsDesc>(entry);
            var name = CString(entry[Marshal.SizeOf<KvmStatsDesc>()..]);
            if (name.Length == 0)
            {
                throw Malformed($"descriptor {i} has no name");
            }

            var desc = new KvmStatDescriptor(name, raw.Flags, raw.Exponent, raw.Size, raw.Offset, raw.BucketSize);
            if (!desc.IsHistogram)
            {
                // Only single values are read: each must lie, 8-byte aligned, within a bounded data block.
                var end = (long)raw.Offset + sizeof(ulong);
                if (raw.Offset % sizeof(ulong) != 0 || end > MaxDataBytes)
                {
                    throw Malformed($"'{name}' lies at data offset 0x{raw.Offset:x}");
                }

                dataEnd = Math.Max(dataEnd, end);
            }

            descriptors.Add(desc);
        }

        return (CString(id), descriptors, header.DataOffset, (int)dataEnd);
    }

    private static void ReadExactly(PositionalRead read, long offset, Span<byte> buffer, string what)
    {
        var done = 0;
        while (done < buffer.Length)
        {
            var n = read(offset + done, buffer[done..]);
            if (n < 0)
            {
                throw new KvmException($"pread(stats fd, {what})", -n);
            }

            if (n == 0)
            {
                throw Malformed($"{what} ends after {done} of {buffer.Length} bytes at offset 0x{offset:x}");
            }

            done += n;
        }
    }

    private static string CString(ReadOnlySpan<byte> bytes)
    {
        var nul = bytes.IndexOf((byte)0);
        return Encoding.ASCII.GetString(nul < 0 ? bytes : bytes[..nul]);
    }

    private static KvmException Malformed(string what) => new(KvmIoctls.GetStatsFd.Name, $"malformed stats fd: {what}");

    private static int PRead(KvmFd fd, long offset, Span<byte> buffer)
    {
        while (true)
        {
            nint n;

            // SAFETY: the buffer is pinned for the call and pread writes at most buffer.Length bytes into it.
            unsafe
            {
                fixed (byte* p = buffer)
                {
                    n = StatsLibc.PRead(fd, p, (nuint)buffer.Length, offset);
                }
            }

            if (n >= 0)
            {
                return (int)n;
            }

            var errno = Marshal.GetLastPInvokeError();
            if (errno != Libc.EIntr)
            {
                return -errno;
            }
        }
    }

    private static partial class StatsLibc
    {
        [LibraryImport("libc", EntryPoint = "pread", SetLastError = true)]
        public static unsafe partial nint PRead(SafeHandle fd, byte* buffer, nuint count, long offset);
    }
}
