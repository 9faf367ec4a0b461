using ActorVmm.Kvm.Memory;

namespace ActorVmm.Kvm;

/// <summary>
/// Every fixed guest-physical address of the x86-64 machine ActorVmm builds, in one place.
/// Low memory (below 1 MiB) holds the boot structures the VMM writes before the first instruction;
/// the kernel goes at 1 MiB; RAM stops at the 32-bit MMIO gap and continues above 4 GiB.
/// </summary>
public static class Layout
{
    // ---- Low memory: boot structures written by the VMM -------------------------------------------

    /// <summary>Global descriptor table for the 64-bit boot (4 entries: null, code, data, TSS).</summary>
    public const ulong GdtStart = 0x500;

    /// <summary>Interrupt descriptor table: one zeroed entry; the kernel installs its own before enabling interrupts.</summary>
    public const ulong IdtStart = 0x520;

    /// <summary>The zero page (struct boot_params, 4 KiB) handed to the kernel in RSI.</summary>
    public const ulong ZeroPageStart = 0x7000;

    /// <summary>Initial stack pointer for the boot vCPU (grows down from just below the PML4 page).</summary>
    public const ulong BootStackPointer = 0x8ff0;

    /// <summary>Boot page tables: PML4 (one entry used).</summary>
    public const ulong Pml4Start = 0x9000;

    /// <summary>Boot page tables: page-directory-pointer table (one entry used).</summary>
    public const ulong PdpteStart = 0xa000;

    /// <summary>Boot page tables: page directory, 512 × 2 MiB pages identity-mapping the first 1 GiB.</summary>
    public const ulong PdeStart = 0xb000;

    /// <summary>Kernel command line (NUL-terminated).</summary>
    public const ulong CmdlineStart = 0x20000;

    /// <summary>Room reserved for the command line including its NUL; the kernel's own cmdline_size usually limits it further (2047 bytes for Debian).</summary>
    public const ulong CmdlineMaxSize = 0x10000;

    /// <summary>Start of the extended BIOS data area: the last 1 KiB of conventional memory (639 KiB), where Linux looks for the MP floating pointer.</summary>
    public const ulong EbdaStart = 0x9fc00;

    /// <summary>Intel MP table (floating pointer followed by the configuration table), in the EBDA.</summary>
    public const ulong MpTableStart = EbdaStart;

    /// <summary>End of conventional memory (640 KiB): the MP table must end at or below this address.</summary>
    public const ulong MpTableEnd = 0xa0000;

    /// <summary>Start of the legacy VGA / option ROM / BIOS hole (640 KiB – 1 MiB), reported reserved in the e820 map.</summary>
    public const ulong LegacyHoleStart = 0xa0000;

    /// <summary>First address above the legacy hole ("high memory", 1 MiB).</summary>
    public const ulong HighMemoryStart = 0x100000;

    /// <summary>Where the protected-mode part of a bzImage is loaded (the boot protocol's code32_start default, 1 MiB).</summary>
    public const ulong KernelLoadAddress = HighMemoryStart;

    /// <summary>Offset of the 64-bit entry point (startup_64) from the protected-mode load address of a bzImage with XLF_KERNEL_64.</summary>
    public const ulong Kernel64BitEntryOffset = 0x200;

    // ---- The 32-bit MMIO gap [0xC000_0000, 4 GiB): no RAM here ---------------------------------------

    /// <summary>Start of the 32-bit MMIO gap; RAM below it, devices in it.</summary>
    public const ulong MmioGapStart = 0xC000_0000;

    /// <summary>End of the 32-bit MMIO gap (4 GiB); RAM that did not fit below the gap resumes here.</summary>
    public const ulong MmioGapEnd = 0x1_0000_0000;

    /// <summary>Size of the 32-bit MMIO gap (1 GiB).</summary>
    public const ulong MmioGapSize = MmioGapEnd - MmioGapStart;

    /// <summary>Start of the window for 32-bit PCI BARs (bottom of the gap).</summary>
    public const ulong PciMmio32Start = MmioGapStart;

    /// <summary>Size of the 32-bit PCI BAR window (768 MiB, up to 0xF000_0000); the rest of the gap is platform space.</summary>
    public const ulong PciMmio32Size = 0x3000_0000;

    /// <summary>Start of the platform area at the top of the gap (IOAPIC, LAPIC, KVM's private pages).</summary>
    public const ulong PlatformMmioStart = PciMmio32Start + PciMmio32Size;

    /// <summary>I/O APIC registers (default PC address).</summary>
    public const ulong IoApicStart = 0xFEC0_0000;

    /// <summary>Size of the I/O APIC register window.</summary>
    public const ulong IoApicSize = 0x1000;

    /// <summary>Local APIC registers (default PC address, per vCPU).</summary>
    public const ulong LapicStart = 0xFEE0_0000;

    /// <summary>Size of the local APIC register window.</summary>
    public const ulong LapicSize = 0x1000;

    /// <summary>KVM_SET_IDENTITY_MAP_ADDR: one page KVM uses for the real-mode identity map on Intel VMX.</summary>
    public const ulong KvmIdentityMapAddress = 0xfffb_c000;

    /// <summary>KVM_SET_TSS_ADDR: three pages KVM uses for the real-mode TSS on Intel VMX (directly after the identity map page).</summary>
    public const ulong KvmTssAddress = 0xfffb_d000;

    /// <summary>Size of KVM's TSS area.</summary>
    public const ulong KvmTssSize = 3 * 0x1000;

    // ---- I/O ports --------------------------------------------------------------------------------

    /// <summary>PCI configuration mechanism #1: CONFIG_ADDRESS (32-bit).</summary>
    public const ushort PciConfigAddressPort = 0xcf8;

    /// <summary>PCI configuration mechanism #1: CONFIG_DATA (4 ports, 0xcfc–0xcff).</summary>
    public const ushort PciConfigDataPort = 0xcfc;

    /// <summary>Size of the CONFIG_DATA port range.</summary>
    public const ushort PciConfigDataSize = 4;

    /// <summary>
    /// The RAM regions of a guest with <paramref name="memorySize"/> bytes: everything below the 32-bit MMIO gap
    /// if it fits, otherwise the part below the gap and the rest from 4 GiB up. Pass the result to
    /// <see cref="GuestMemory.Create"/> and to the zero-page builder.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">The size is zero, not page-aligned, or would run past 2^64.</exception>
    public static IReadOnlyList<(GuestAddress Start, ulong Size)> ArchMemoryRegions(ulong memorySize)
    {
        if (memorySize == 0 || memorySize % GuestMemory.PageSize != 0)
        {
            throw new ArgumentOutOfRangeException(nameof(memorySize), memorySize,
                "guest memory size must be a non-zero multiple of the page size");
        }

        if (memorySize <= MmioGapStart)
        {
            return [(GuestAddress.Zero, memorySize)];
        }

        var high = memorySize - MmioGapStart;
        if (high > ulong.MaxValue - MmioGapEnd)
        {
            throw new ArgumentOutOfRangeException(nameof(memorySize), memorySize,
                "guest memory size does not fit in the 64-bit address space above the MMIO gap");
        }

        return [(GuestAddress.Zero, MmioGapStart), (new GuestAddress(MmioGapEnd), high)];
    }
}
