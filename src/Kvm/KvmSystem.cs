using System.Buffers.Binary;
using System.Runtime.InteropServices;
using ActorVmm.Kvm.Interop;

namespace ActorVmm.Kvm;

/// <summary>An open /dev/kvm: capability queries, host CPUID/MSR lists and VM creation.</summary>
public sealed class KvmSystem : IDisposable
{
    /// <summary>KVM_API_VERSION: the only version the stable KVM API has ever had.</summary>
    public const int ExpectedApiVersion = 12;

    private const int MaxCpuidEntries = 4096;
    private const int MaxMsrIndices = 16384;

    private readonly KvmFd _fd;

    private KvmSystem(KvmFd fd, string path, int apiVersion)
    {
        _fd = fd;
        Path = path;
        ApiVersion = apiVersion;
    }

    public string Path { get; }

    public int ApiVersion { get; }

    /// <summary>Size of each vCPU's kvm_run mapping (KVM_GET_VCPU_MMAP_SIZE).</summary>
    public int VcpuMmapSize => KvmIoctl.Invoke(_fd, KvmIoctls.GetVcpuMmapSize);

    /// <summary>The most vCPUs one VM may have (KVM_CAP_MAX_VCPUS, else KVM_CAP_NR_VCPUS, else 4 as the API documents).</summary>
    public int MaxVcpus
    {
        get
        {
            var max = CheckExtension(KvmCap.MaxVcpus);
            if (max > 0)
            {
                return max;
            }

            var recommended = CheckExtension(KvmCap.NrVcpus);
            return recommended > 0 ? recommended : 4;
        }
    }

    /// <summary>
    /// The bound KVM_CREATE_VCPU ids stay below (KVM_CAP_MAX_VCPU_ID; without it <see cref="MaxVcpus"/>, as the API
    /// documents). On x86 the id is the initial APIC id.
    /// </summary>
    public int MaxVcpuId
    {
        get
        {
            var max = CheckExtension(KvmCap.MaxVcpuId);
            return max > 0 ? max : MaxVcpus;
        }
    }

    /// <summary>
    /// Opens <paramref name="path"/>. A missing device, a permission problem or a foreign API version throws
    /// <see cref="KvmUnavailableException"/> with one line naming the cause.
    /// </summary>
    public static KvmSystem Open(string path = "/dev/kvm")
    {
        var raw = Libc.Open(path, Libc.ORdWr | Libc.OCloExec);
        if (raw < 0)
        {
            var errno = Marshal.GetLastPInvokeError();
            throw new KvmUnavailableException(OpenFailureMessage(path, errno), errno);
        }

        var fd = new KvmFd(raw);
        try
        {
            int version;
            try
            {
                version = KvmIoctl.Invoke(fd, KvmIoctls.GetApiVersion);
            }
            catch (KvmException e)
            {
                throw new KvmUnavailableException(
                    $"{path} is not a KVM device: KVM_GET_API_VERSION failed with {KvmException.ErrnoName(e.Errno)}", e.Errno);
            }

            if (version != ExpectedApiVersion)
            {
                throw new KvmUnavailableException(
                    $"{path} speaks KVM API version {version}, this VMM needs version {ExpectedApiVersion}");
            }

            var system = new KvmSystem(fd, path, version);
            system.RequireExtension(KvmCap.UserMemory, unavailable: true);
            system.RequireExtension(KvmCap.ImmediateExit, unavailable: true);
            return system;
        }
        catch
        {
            fd.Dispose();
            throw;
        }
    }

    internal static string OpenFailureMessage(string path, int errno) => errno switch
    {
        Libc.ENoEnt => $"{path} does not exist: KVM is not available on this machine (run through tools/nested/run-in-kvm.sh)",
        Libc.EAcces => $"{path}: permission denied: add this user to the 'kvm' group (or run as root)",
        6 or 19 => $"{path} has no KVM behind it: load the kvm-intel or kvm-amd module (is virtualization enabled in the firmware?)",
        _ => $"cannot open {path}: {KvmException.ErrnoName(errno)} ({Marshal.GetPInvokeErrorMessage(errno)})",
    };

    /// <summary>KVM_CHECK_EXTENSION: 0 when absent, otherwise 1 or a capability-specific value.</summary>
    public int CheckExtension(KvmCap cap) => KvmIoctl.Invoke(_fd, KvmIoctls.CheckExtension, (nint)cap);

    /// <summary>Throws a <see cref="KvmException"/> naming <paramref name="cap"/> when the kernel lacks it.</summary>
    public void RequireExtension(KvmCap cap) => RequireExtension(cap, unavailable: false);

    /// <summary>KVM_GET_SUPPORTED_CPUID: the CPUID leaves KVM can expose to a guest on this host.</summary>
    public KvmCpuidEntry2[] GetSupportedCpuid()
    {
        var entrySize = KvmIoctl.SizeOf<KvmCpuidEntry2>();
        for (var capacity = 128; capacity <= MaxCpuidEntries; capacity *= 2)
        {
            var buffer = new byte[8 + (capacity * entrySize)];
            BinaryPrimitives.WriteUInt32LittleEndian(buffer, (uint)capacity);
            var result = KvmIoctl.TryInvoke(_fd, KvmIoctls.GetSupportedCpuid, buffer);
            if (result == -Libc.E2Big)
            {
                continue;
            }

            if (result < 0)
            {
                throw KvmIoctl.Error(KvmIoctls.GetSupportedCpuid, -result);
            }

            var count = (int)Math.Min(BinaryPrimitives.ReadUInt32LittleEndian(buffer), (uint)capacity);
            return MemoryMarshal.Cast<byte, KvmCpuidEntry2>(buffer.AsSpan(8, count * entrySize)).ToArray();
        }

        throw new KvmException(KvmIoctls.GetSupportedCpuid.Name, $"more than {MaxCpuidEntries} CPUID entries");
    }

    /// <summary>KVM_GET_MSR_INDEX_LIST: the MSRs KVM saves and restores for a vCPU.</summary>
    public uint[] GetMsrIndexList()
    {
        var capacity = 256;
        while (capacity <= MaxMsrIndices)
        {
            var buffer = new byte[4 + (capacity * 4)];
            BinaryPrimitives.WriteUInt32LittleEndian(buffer, (uint)capacity);
            var result = KvmIoctl.TryInvoke(_fd, KvmIoctls.GetMsrIndexList, buffer);
            var reported = BinaryPrimitives.ReadUInt32LittleEndian(buffer);
            if (result == -Libc.E2Big)
            {
                // The kernel wrote back how many it has.
                capacity = Math.Max(capacity * 2, (int)Math.Min(reported, (uint)MaxMsrIndices + 1));
                continue;
            }

            if (result < 0)
            {
                throw KvmIoctl.Error(KvmIoctls.GetMsrIndexList, -result);
            }

            var count = (int)Math.Min(reported, (uint)capacity);
            return MemoryMarshal.Cast<byte, uint>(buffer.AsSpan(4, count * 4)).ToArray();
        }

        throw new KvmException(KvmIoctls.GetMsrIndexList.Name, $"more than {MaxMsrIndices} MSR indices");
    }

    /// <summary>KVM_CREATE_VM (default machine type).</summary>
    public KvmVm CreateVm()
    {
        var mmapSize = VcpuMmapSize;
        var vmFd = new KvmFd(KvmIoctl.Invoke(_fd, KvmIoctls.CreateVm, 0));
        return new KvmVm(vmFd, mmapSize);
    }

    public void Dispose() => _fd.Dispose();

    private void RequireExtension(KvmCap cap, bool unavailable)
    {
        if (CheckExtension(cap) > 0)
        {
            return;
        }

        var message = $"KVM on this host lacks the required capability KVM_CAP_{CapName(cap)} ({(int)cap})";
        if (unavailable)
        {
            throw new KvmUnavailableException(message);
        }

        throw new KvmException(KvmIoctls.CheckExtension.Name, message);
    }

    private static string CapName(KvmCap cap)
    {
        var name = cap.ToString();
        var sb = new System.Text.StringBuilder();
        for (var i = 0; i < name.Length; i++)
        {
            if (i > 0 && char.IsUpper(name[i]))
            {
                sb.Append('_');
            }

            sb.Append(char.ToUpperInvariant(name[i]));
        }

        return sb.ToString();
    }
}
