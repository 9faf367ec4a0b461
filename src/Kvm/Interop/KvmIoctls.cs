using System.Runtime.CompilerServices;

namespace ActorVmm.Kvm.Interop;

/// <summary>The KVM ioctl numbers used here, computed as &lt;linux/kvm.h&gt; does (x86-64).</summary>
internal static class KvmIoctls
{
    public const uint KvmIo = 0xAE;

    // /dev/kvm
    public static readonly IoctlRequest GetApiVersion = IoctlRequest.Io("KVM_GET_API_VERSION", KvmIo, 0x00);
    public static readonly IoctlRequest CreateVm = IoctlRequest.Io("KVM_CREATE_VM", KvmIo, 0x01);
    public static readonly IoctlRequest GetMsrIndexList = IoctlRequest.IoWR("KVM_GET_MSR_INDEX_LIST", KvmIo, 0x02, sizeof(uint));
    public static readonly IoctlRequest CheckExtension = IoctlRequest.Io("KVM_CHECK_EXTENSION", KvmIo, 0x03);
    public static readonly IoctlRequest GetVcpuMmapSize = IoctlRequest.Io("KVM_GET_VCPU_MMAP_SIZE", KvmIo, 0x04);
    public static readonly IoctlRequest GetSupportedCpuid = IoctlRequest.IoWR("KVM_GET_SUPPORTED_CPUID", KvmIo, 0x05, 8);

    // VM
    public static readonly IoctlRequest CreateVcpu = IoctlRequest.Io("KVM_CREATE_VCPU", KvmIo, 0x41);
    public static readonly IoctlRequest SetUserMemoryRegion = IoctlRequest.IoW("KVM_SET_USER_MEMORY_REGION", KvmIo, 0x46, Unsafe.SizeOf<KvmUserspaceMemoryRegion>());
    public static readonly IoctlRequest SetTssAddr = IoctlRequest.Io("KVM_SET_TSS_ADDR", KvmIo, 0x47);
    public static readonly IoctlRequest SetIdentityMapAddr = IoctlRequest.IoW("KVM_SET_IDENTITY_MAP_ADDR", KvmIo, 0x48, sizeof(ulong));
    public static readonly IoctlRequest CreateIrqchip = IoctlRequest.Io("KVM_CREATE_IRQCHIP", KvmIo, 0x60);
    public static readonly IoctlRequest IrqLine = IoctlRequest.IoW("KVM_IRQ_LINE", KvmIo, 0x61, Unsafe.SizeOf<KvmIrqLevel>());
    public static readonly IoctlRequest SetGsiRouting = IoctlRequest.IoW("KVM_SET_GSI_ROUTING", KvmIo, 0x6a, 8);
    public static readonly IoctlRequest Irqfd = IoctlRequest.IoW("KVM_IRQFD", KvmIo, 0x76, Unsafe.SizeOf<KvmIrqfd>());
    public static readonly IoctlRequest CreatePit2 = IoctlRequest.IoW("KVM_CREATE_PIT2", KvmIo, 0x77, Unsafe.SizeOf<KvmPitConfig>());
    public static readonly IoctlRequest Ioeventfd = IoctlRequest.IoW("KVM_IOEVENTFD", KvmIo, 0x79, Unsafe.SizeOf<KvmIoeventfd>());
    public static readonly IoctlRequest SignalMsi = IoctlRequest.IoW("KVM_SIGNAL_MSI", KvmIo, 0xa5, Unsafe.SizeOf<KvmMsi>());

    // VM state (snapshots). KVM_SET_IRQCHIP really is _IOR in <linux/kvm.h>.
    public static readonly IoctlRequest GetIrqchip = IoctlRequest.IoWR("KVM_GET_IRQCHIP", KvmIo, 0x62, Unsafe.SizeOf<KvmIrqchip>());
    public static readonly IoctlRequest SetIrqchip = IoctlRequest.IoR("KVM_SET_IRQCHIP", KvmIo, 0x63, Unsafe.SizeOf<KvmIrqchip>());
    public static readonly IoctlRequest SetClock = IoctlRequest.IoW("KVM_SET_CLOCK", KvmIo, 0x7b, Unsafe.SizeOf<KvmClockData>());
    public static readonly IoctlRequest GetClock = IoctlRequest.IoR("KVM_GET_CLOCK", KvmIo, 0x7c, Unsafe.SizeOf<KvmClockData>());
    public static readonly IoctlRequest GetPit2 = IoctlRequest.IoR("KVM_GET_PIT2", KvmIo, 0x9f, Unsafe.SizeOf<KvmPitState2>());
    public static readonly IoctlRequest SetPit2 = IoctlRequest.IoW("KVM_SET_PIT2", KvmIo, 0xa0, Unsafe.SizeOf<KvmPitState2>());

    // vCPU
    public static readonly IoctlRequest Run = IoctlRequest.Io("KVM_RUN", KvmIo, 0x80);
    public static readonly IoctlRequest GetRegs = IoctlRequest.IoR("KVM_GET_REGS", KvmIo, 0x81, Unsafe.SizeOf<KvmRegs>());
    public static readonly IoctlRequest SetRegs = IoctlRequest.IoW("KVM_SET_REGS", KvmIo, 0x82, Unsafe.SizeOf<KvmRegs>());
    public static readonly IoctlRequest GetSregs = IoctlRequest.IoR("KVM_GET_SREGS", KvmIo, 0x83, Unsafe.SizeOf<KvmSregs>());
    public static readonly IoctlRequest SetSregs = IoctlRequest.IoW("KVM_SET_SREGS", KvmIo, 0x84, Unsafe.SizeOf<KvmSregs>());
    public static readonly IoctlRequest GetMsrs = IoctlRequest.IoWR("KVM_GET_MSRS", KvmIo, 0x88, 8);
    public static readonly IoctlRequest SetMsrs = IoctlRequest.IoW("KVM_SET_MSRS", KvmIo, 0x89, 8);
    public static readonly IoctlRequest SetSignalMask = IoctlRequest.IoW("KVM_SET_SIGNAL_MASK", KvmIo, 0x8b, sizeof(uint));
    public static readonly IoctlRequest GetFpu = IoctlRequest.IoR("KVM_GET_FPU", KvmIo, 0x8c, Unsafe.SizeOf<KvmFpu>());
    public static readonly IoctlRequest SetFpu = IoctlRequest.IoW("KVM_SET_FPU", KvmIo, 0x8d, Unsafe.SizeOf<KvmFpu>());
    public static readonly IoctlRequest GetLapic = IoctlRequest.IoR("KVM_GET_LAPIC", KvmIo, 0x8e, Unsafe.SizeOf<KvmLapicState>());
    public static readonly IoctlRequest SetLapic = IoctlRequest.IoW("KVM_SET_LAPIC", KvmIo, 0x8f, Unsafe.SizeOf<KvmLapicState>());
    public static readonly IoctlRequest SetCpuid2 = IoctlRequest.IoW("KVM_SET_CPUID2", KvmIo, 0x90, 8);
    public static readonly IoctlRequest GetCpuid2 = IoctlRequest.IoWR("KVM_GET_CPUID2", KvmIo, 0x91, 8);
    public static readonly IoctlRequest GetXsave = IoctlRequest.IoR("KVM_GET_XSAVE", KvmIo, 0xa4, Unsafe.SizeOf<KvmXsave>());
    public static readonly IoctlRequest SetXsave = IoctlRequest.IoW("KVM_SET_XSAVE", KvmIo, 0xa5, Unsafe.SizeOf<KvmXsave>());
    public static readonly IoctlRequest GetMpState = IoctlRequest.IoR("KVM_GET_MP_STATE", KvmIo, 0x98, sizeof(uint));
    public static readonly IoctlRequest SetMpState = IoctlRequest.IoW("KVM_SET_MP_STATE", KvmIo, 0x99, sizeof(uint));

    // vCPU state (snapshots)
    public static readonly IoctlRequest GetVcpuEvents = IoctlRequest.IoR("KVM_GET_VCPU_EVENTS", KvmIo, 0x9f, Unsafe.SizeOf<KvmVcpuEvents>());
    public static readonly IoctlRequest SetVcpuEvents = IoctlRequest.IoW("KVM_SET_VCPU_EVENTS", KvmIo, 0xa0, Unsafe.SizeOf<KvmVcpuEvents>());
    public static readonly IoctlRequest GetDebugRegs = IoctlRequest.IoR("KVM_GET_DEBUGREGS", KvmIo, 0xa1, Unsafe.SizeOf<KvmDebugRegs>());
    public static readonly IoctlRequest SetDebugRegs = IoctlRequest.IoW("KVM_SET_DEBUGREGS", KvmIo, 0xa2, Unsafe.SizeOf<KvmDebugRegs>());
    public static readonly IoctlRequest SetTscKhz = IoctlRequest.Io("KVM_SET_TSC_KHZ", KvmIo, 0xa2);
    public static readonly IoctlRequest GetTscKhz = IoctlRequest.Io("KVM_GET_TSC_KHZ", KvmIo, 0xa3);
    public static readonly IoctlRequest GetXcrs = IoctlRequest.IoR("KVM_GET_XCRS", KvmIo, 0xa6, Unsafe.SizeOf<KvmXcrs>());
    public static readonly IoctlRequest SetXcrs = IoctlRequest.IoW("KVM_SET_XCRS", KvmIo, 0xa7, Unsafe.SizeOf<KvmXcrs>());
    public static readonly IoctlRequest KvmclockCtrl = IoctlRequest.Io("KVM_KVMCLOCK_CTRL", KvmIo, 0xad);

    /// <summary>Writes KVM_CHECK_EXTENSION(KVM_CAP_XSAVE2) bytes, which may exceed the 4 KiB the number encodes.</summary>
    public static readonly IoctlRequest GetXsave2 = IoctlRequest.IoR("KVM_GET_XSAVE2", KvmIo, 0xcf, Unsafe.SizeOf<KvmXsave>());

    // VM or vCPU: binary statistics (Linux 5.14+)
    public static readonly IoctlRequest GetStatsFd = IoctlRequest.Io("KVM_GET_STATS_FD", KvmIo, 0xce);
}
