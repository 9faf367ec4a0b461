using ActorVmm.Kvm;
using ActorVmm.Kvm.Interop;
using Xunit;

namespace ActorVmm.Kvm.Tests.Interop;

/// <summary>Computed _IO/_IOR/_IOW/_IOWR numbers against the values &lt;linux/kvm.h&gt; yields on x86-64.</summary>
public class IoctlNumberTests
{
    public static TheoryData<string, ulong> KernelNumbers => new()
    {
        { "KVM_GET_API_VERSION", 0xAE00 },
        { "KVM_CREATE_VM", 0xAE01 },
        { "KVM_GET_MSR_INDEX_LIST", 0xC004AE02 },
        { "KVM_CHECK_EXTENSION", 0xAE03 },
        { "KVM_GET_VCPU_MMAP_SIZE", 0xAE04 },
        { "KVM_GET_SUPPORTED_CPUID", 0xC008AE05 },
        { "KVM_CREATE_VCPU", 0xAE41 },
        { "KVM_SET_USER_MEMORY_REGION", 0x4020AE46 },
        { "KVM_SET_TSS_ADDR", 0xAE47 },
        { "KVM_SET_IDENTITY_MAP_ADDR", 0x4008AE48 },
        { "KVM_CREATE_IRQCHIP", 0xAE60 },
        { "KVM_IRQ_LINE", 0x4008AE61 },
        { "KVM_SET_GSI_ROUTING", 0x4008AE6A },
        { "KVM_IRQFD", 0x4020AE76 },
        { "KVM_CREATE_PIT2", 0x4040AE77 },
        { "KVM_IOEVENTFD", 0x4040AE79 },
        { "KVM_SIGNAL_MSI", 0x4020AEA5 },
        { "KVM_RUN", 0xAE80 },
        { "KVM_GET_STATS_FD", 0xAECE },
        { "KVM_GET_REGS", 0x8090AE81 },
        { "KVM_SET_REGS", 0x4090AE82 },
        { "KVM_GET_SREGS", 0x8138AE83 },
        { "KVM_SET_SREGS", 0x4138AE84 },
        { "KVM_GET_MSRS", 0xC008AE88 },
        { "KVM_SET_MSRS", 0x4008AE89 },
        { "KVM_SET_SIGNAL_MASK", 0x4004AE8B },
        { "KVM_GET_FPU", 0x81A0AE8C },
        { "KVM_SET_FPU", 0x41A0AE8D },
        { "KVM_GET_LAPIC", 0x8400AE8E },
        { "KVM_SET_LAPIC", 0x4400AE8F },
        { "KVM_SET_CPUID2", 0x4008AE90 },
        { "KVM_GET_CPUID2", 0xC008AE91 },
        { "KVM_GET_XSAVE", 0x9000AEA4 },
        { "KVM_SET_XSAVE", 0x5000AEA5 },
        { "KVM_GET_MP_STATE", 0x8004AE98 },
        { "KVM_SET_MP_STATE", 0x4004AE99 },
        { "KVM_GET_IRQCHIP", 0xC208AE62 },
        { "KVM_SET_IRQCHIP", 0x8208AE63 },
        { "KVM_SET_CLOCK", 0x4030AE7B },
        { "KVM_GET_CLOCK", 0x8030AE7C },
        { "KVM_GET_PIT2", 0x8070AE9F },
        { "KVM_SET_PIT2", 0x4070AEA0 },
        { "KVM_GET_VCPU_EVENTS", 0x8040AE9F },
        { "KVM_SET_VCPU_EVENTS", 0x4040AEA0 },
        { "KVM_GET_DEBUGREGS", 0x8080AEA1 },
        { "KVM_SET_DEBUGREGS", 0x4080AEA2 },
        { "KVM_SET_TSC_KHZ", 0xAEA2 },
        { "KVM_GET_TSC_KHZ", 0xAEA3 },
        { "KVM_GET_XCRS", 0x8188AEA6 },
        { "KVM_SET_XCRS", 0x4188AEA7 },
        { "KVM_KVMCLOCK_CTRL", 0xAEAD },
        { "KVM_GET_XSAVE2", 0x9000AECF },
    };

    [Theory]
    [MemberData(nameof(KernelNumbers))]
    public void Ioctl_number_should_equal_the_kernels(string name, ulong expected)
    {
        var request = typeof(KvmIoctls).GetFields()
            .Where(f => f.FieldType == typeof(IoctlRequest))
            .Select(f => (IoctlRequest)f.GetValue(null)!)
            .Single(r => r.Name == name);

        Assert.Equal(expected, (ulong)request.Number);
    }

    [Fact]
    public void Every_declared_ioctl_should_be_checked_against_the_kernel()
    {
        var declared = typeof(KvmIoctls).GetFields()
            .Where(f => f.FieldType == typeof(IoctlRequest))
            .Select(f => ((IoctlRequest)f.GetValue(null)!).Name)
            .ToHashSet();
        var checkedNames = KernelNumbers.Select(row => row.Data.Item1).ToHashSet();

        Assert.Subset(checkedNames, declared);
    }

    [Fact]
    public void Encoding_should_reject_a_size_that_does_not_fit_14_bits()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => IoctlRequest.IoW("X", 0xAE, 1, 1 << 14));
    }
}
