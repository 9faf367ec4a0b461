using System.Runtime.InteropServices;
using ActorVmm.Kvm.Interop;
using ActorVmm.Kvm.Memory;

namespace ActorVmm.Kvm;

/// <summary>A KVM virtual machine: memory slots, in-kernel irqchip/PIT, irqfd/ioeventfd and vCPU creation.</summary>
public sealed partial class KvmVm : IDisposable
{
    private readonly KvmFd _fd;
    private readonly int _vcpuMmapSize;

    internal KvmVm(KvmFd fd, int vcpuMmapSize)
    {
        _fd = fd;
        _vcpuMmapSize = vcpuMmapSize;
    }

    /// <summary>KVM_SET_TSS_ADDR: three pages of guest-physical space (below 4 GiB, outside RAM) for Intel's real-mode TSS.</summary>
    public void SetTssAddress(ulong address) => KvmIoctl.Invoke(_fd, KvmIoctls.SetTssAddr, (nint)address);

    /// <summary>KVM_SET_IDENTITY_MAP_ADDR: one page (below 4 GiB, outside RAM) for Intel's real-mode identity map.</summary>
    public void SetIdentityMapAddress(ulong address)
    {
        var value = address;
        KvmIoctl.Invoke(_fd, KvmIoctls.SetIdentityMapAddr, ref value);
    }

    /// <summary>KVM_SET_USER_MEMORY_REGION. A size of 0 deletes the slot.</summary>
    public void SetUserMemoryRegion(uint slot, ulong guestAddr, ulong size, nint hostAddr, uint flags = 0)
    {
        var region = new KvmUserspaceMemoryRegion
        {
            Slot = slot,
            Flags = flags,
            GuestPhysAddr = guestAddr,
            MemorySize = size,
            UserspaceAddr = (ulong)hostAddr,
        };
        KvmIoctl.Invoke(_fd, KvmIoctls.SetUserMemoryRegion, ref region);
    }

    /// <summary>Registers every region of <paramref name="memory"/> as its own slot (the region's <see cref="GuestMemoryRegion.Slot"/>).</summary>
    public void MapMemory(GuestMemory memory)
    {
        foreach (var region in memory.Regions)
        {
            SetUserMemoryRegion((uint)region.Slot, region.Start.Value, region.Size, region.HostAddress);
        }
    }

    /// <summary>KVM_CREATE_IRQCHIP: in-kernel PIC pair, IOAPIC and per-vCPU LAPICs (before creating vCPUs).</summary>
    public void CreateIrqchip() => KvmIoctl.Invoke(_fd, KvmIoctls.CreateIrqchip);

    /// <summary>KVM_CREATE_PIT2 (with the dummy speaker port, as Firecracker and crosvm configure it). After <see cref="CreateIrqchip"/>.</summary>
    public void CreatePit2(uint flags = KvmPitConfig.SpeakerDummy)
    {
        var config = new KvmPitConfig { Flags = flags };
        KvmIoctl.Invoke(_fd, KvmIoctls.CreatePit2, ref config);
    }

    /// <summary>KVM_SIGNAL_MSI: injects one MSI (needs the in-kernel irqchip).</summary>
    public void SignalMsi(ulong address, uint data)
    {
        var msi = new KvmMsi { AddressLo = (uint)address, AddressHi = (uint)(address >> 32), Data = data };
        KvmIoctl.Invoke(_fd, KvmIoctls.SignalMsi, ref msi);
    }

    /// <summary>KVM_CREATE_VCPU and its kvm_run mapping, for vCPU <paramref name="id"/> whose APIC id is its index.</summary>
    public Vcpu CreateVcpu(int id) => CreateVcpu(id, id);

    /// <summary>
    /// KVM_CREATE_VCPU with KVM vCPU id <paramref name="apicId"/> (on x86 KVM makes it the initial APIC id) for the
    /// VMM's vCPU <paramref name="index"/> (<see cref="Vcpu.Id"/>), and its kvm_run mapping. The id must be below
    /// <see cref="KvmSystem.MaxVcpuId"/>.
    /// </summary>
    public Vcpu CreateVcpu(int index, int apicId)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(index);
        ArgumentOutOfRangeException.ThrowIfNegative(apicId);
        var vcpuFd = new KvmFd(KvmIoctl.Invoke(_fd, KvmIoctls.CreateVcpu, apicId));
        try
        {
            return new Vcpu(index, vcpuFd, _vcpuMmapSize, XsaveSize) { ApicId = apicId };
        }
        catch
        {
            vcpuFd.Dispose();
            throw;
        }
    }

    /// <summary>
    /// KVM_IRQFD: writing <paramref name="fd"/> raises GSI <paramref name="gsi"/>. With <paramref name="resample"/>
    /// the line is level-triggered: it stays asserted until the guest EOIs, then KVM signals <paramref name="resample"/>.
    /// </summary>
    public void RegisterIrqfd(EventFd fd, uint gsi, EventFd? resample = null)
    {
        ArgumentNullException.ThrowIfNull(fd);
        WithFds(fd, resample, (eventFd, resampleFd) =>
        {
            var arg = new KvmIrqfd
            {
                Fd = (uint)eventFd,
                Gsi = gsi,
                Flags = resample is null ? 0 : KvmIrqfd.FlagResample,
                ResampleFd = resample is null ? 0 : (uint)resampleFd,
            };
            KvmIoctl.Invoke(_fd, KvmIoctls.Irqfd, ref arg);
        });
    }

    /// <summary>KVM_IRQFD with KVM_IRQFD_FLAG_DEASSIGN.</summary>
    public void UnregisterIrqfd(EventFd fd, uint gsi)
    {
        ArgumentNullException.ThrowIfNull(fd);
        WithFds(fd, null, (eventFd, _) =>
        {
            var arg = new KvmIrqfd { Fd = (uint)eventFd, Gsi = gsi, Flags = KvmIrqfd.FlagDeassign };
            KvmIoctl.Invoke(_fd, KvmIoctls.Irqfd, ref arg);
        });
    }

    /// <summary>
    /// KVM_IOEVENTFD: a guest write of <paramref name="length"/> bytes (1, 2, 4 or 8; 0 = any) to
    /// <paramref name="address"/> (a port when <paramref name="pio"/>, else MMIO) signals <paramref name="fd"/> instead of
    /// exiting — only when the written value equals <paramref name="dataMatch"/>, if given.
    /// </summary>
    public void RegisterIoeventfd(EventFd fd, ulong address, int length, bool pio, ulong? dataMatch = null) =>
        Ioeventfd(fd, address, length, pio, dataMatch, deassign: false);

    /// <summary>KVM_IOEVENTFD with KVM_IOEVENTFD_FLAG_DEASSIGN; the arguments must match the registration.</summary>
    public void UnregisterIoeventfd(EventFd fd, ulong address, int length, bool pio, ulong? dataMatch = null) =>
        Ioeventfd(fd, address, length, pio, dataMatch, deassign: true);

    /// <summary>
    /// KVM_SET_GSI_ROUTING: replaces the whole GSI routing table (irqchip pins and MSI routes); keep
    /// <see cref="KvmIrqRouting.X86Default"/> in it to keep the in-kernel irqchip's pins reachable. Irqfds on a GSI
    /// follow its new route. Refused tables (bad pin, unknown type, too many entries) throw <see cref="KvmException"/>.
    /// </summary>
    public void SetGsiRouting(ReadOnlySpan<KvmIrqRoutingEntry> entries)
    {
        var header = new KvmIrqRouting { Nr = (uint)entries.Length };
        var headerBytes = MemoryMarshal.AsBytes(new ReadOnlySpan<KvmIrqRouting>(in header));
        var entryBytes = MemoryMarshal.AsBytes(entries);
        var buffer = new byte[headerBytes.Length + entryBytes.Length];
        headerBytes.CopyTo(buffer);
        entryBytes.CopyTo(buffer.AsSpan(headerBytes.Length));
        KvmIoctl.Invoke(_fd, KvmIoctls.SetGsiRouting, buffer);
    }

    public void Dispose() => _fd.Dispose();

    private void Ioeventfd(EventFd fd, ulong address, int length, bool pio, ulong? dataMatch, bool deassign)
    {
        ArgumentNullException.ThrowIfNull(fd);
        if (length is not (0 or 1 or 2 or 4 or 8))
        {
            throw new ArgumentOutOfRangeException(nameof(length), length, "ioeventfd length must be 0, 1, 2, 4 or 8");
        }

        if (dataMatch is not null && length == 0)
        {
            throw new ArgumentException("an ioeventfd with a data match needs a length", nameof(dataMatch));
        }

        WithFds(fd, null, (eventFd, _) =>
        {
            var flags = (pio ? KvmIoeventfd.FlagPio : 0)
                | (dataMatch is null ? 0 : KvmIoeventfd.FlagDatamatch)
                | (deassign ? KvmIoeventfd.FlagDeassign : 0);
            var arg = new KvmIoeventfd
            {
                Datamatch = dataMatch ?? 0,
                Addr = address,
                Len = (uint)length,
                Fd = eventFd,
                Flags = flags,
            };
            KvmIoctl.Invoke(_fd, KvmIoctls.Ioeventfd, ref arg);
        });
    }

    /// <summary>Keeps both eventfds open while their numbers are handed to the kernel.</summary>
    private static void WithFds(EventFd fd, EventFd? other, Action<int, int> action)
    {
        var addedFd = false;
        var addedOther = false;
        try
        {
            fd.DangerousAddRef(ref addedFd);
            other?.DangerousAddRef(ref addedOther);
            action(fd.Fd, other?.Fd ?? -1);
        }
        finally
        {
            if (addedOther)
            {
                other!.DangerousRelease();
            }

            if (addedFd)
            {
                fd.DangerousRelease();
            }
        }
    }
}
