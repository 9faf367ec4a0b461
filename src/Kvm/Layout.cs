using ActorVmm.Kvm.Memory;

namespace ActorVmm.Kvm;

/// <summary>
/// The map of the x86-64 machine ActorVmm builds: every fixed guest-physical address, I/O port, ISA IRQ and GSI range.
/// Low memory (below 1 MiB) holds the boot structures written before the first instruction; the kernel goes at 1 MiB;
/// RAM stops at the 32-bit MMIO gap and continues above 4 GiB. Devices keep only offsets inside their own range.
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

    /// <summary>Initial stack pointer of the boot vCPU (grows down from just below the PML4 page).</summary>
    public const ulong BootStackPointer = 0x8ff0;

    /// <summary>Boot page tables: PML4 (one entry used).</summary>
    public const ulong Pml4Start = 0x9000;

    /// <summary>Boot page tables: page-directory-pointer table (one entry used).</summary>
    public const ulong PdpteStart = 0xa000;

    /// <summary>Boot page tables: page directory, 512 × 2 MiB pages identity-mapping the first 1 GiB.</summary>
    public const ulong PdeStart = 0xb000;

    /// <summary>Kernel command line (NUL-terminated).</summary>
    public const ulong CmdlineStart = 0x20000;

    /// <summary>Room for the command line including its NUL; the kernel's cmdline_size usually limits it further.</summary>
    public const ulong CmdlineMaxSize = 0x10000;

    /// <summary>ACPI tables: the RSDP first (16-byte aligned), then XSDT, FADT, MADT, DSDT, ... up to 1 MiB (BIOS area, e820-reserved).</summary>
    public const ulong AcpiTablesStart = 0xE0000;

    /// <summary>End of the ACPI table area.</summary>
    public const ulong AcpiTablesEnd = HighMemoryStart;

    /// <summary>Extended BIOS data area: the last 1 KiB of conventional memory, where Linux looks for the MP table.</summary>
    public const ulong EbdaStart = 0x9fc00;

    /// <summary>Intel MP table (floating pointer, then the configuration table), in the EBDA.</summary>
    public const ulong MpTableStart = EbdaStart;

    /// <summary>End of conventional memory (640 KiB): the MP table must end at or below it.</summary>
    public const ulong MpTableEnd = 0xa0000;

    /// <summary>First address above the legacy VGA / ROM hole (1 MiB); e820 reports [EBDA, 1 MiB) reserved.</summary>
    public const ulong HighMemoryStart = 0x100000;

    /// <summary>Where the protected-mode part of a bzImage is loaded (the boot protocol's code32_start default).</summary>
    public const ulong KernelLoadAddress = HighMemoryStart;

    /// <summary>Offset of startup_64 from the protected-mode load address of a bzImage with XLF_KERNEL_64.</summary>
    public const ulong Kernel64BitEntryOffset = 0x200;

    // ---- The 32-bit MMIO gap [0xC000_0000, 4 GiB): no RAM here ---------------------------------------

    /// <summary>Start of the 32-bit MMIO gap; RAM below it, devices in it.</summary>
    public const ulong MmioGapStart = 0xC000_0000;

    /// <summary>End of the 32-bit MMIO gap (4 GiB); RAM that did not fit below the gap resumes here.</summary>
    public const ulong MmioGapEnd = 0x1_0000_0000;

    /// <summary>Start of the window for 32-bit PCI BARs (bottom of the gap).</summary>
    public const ulong PciMmio32Start = MmioGapStart;

    /// <summary>Size of the 32-bit PCI BAR window (768 MiB); the rest of the gap is platform space.</summary>
    public const ulong PciMmio32Size = 0x3000_0000;

    /// <summary>virtio-mmio devices: one 4 KiB window each from here (platform space above the PCI BAR window).</summary>
    public const ulong VirtioMmioStart = 0xF000_0000;

    /// <summary>Size of one virtio-mmio device's register window.</summary>
    public const ulong VirtioMmioSize = 0x1000;

    /// <summary>virtio-mmio devices a VM may have at most.</summary>
    public const int VirtioMmioMaxDevices = 32;

    /// <summary>
    /// The GSI of virtio-mmio device <paramref name="index"/> in a VM with <paramref name="pciDevices"/> virtio-pci
    /// functions (whose INTA# take GSIs 16, 17, ... round-robin: <see cref="FirstPciGsi"/>): one of the inputs 16-23
    /// no PCI function uses, round-robin from the top (23, 22, ...), several devices sharing one past that; null
    /// when PCI uses all eight. Level-triggered, as PCI INTx: the line follows InterruptStatus as INTx follows ISR
    /// (an irqfd with a resamplefd), and inputs 16-23 are the ones a PC wires level (the ISA IRQs stay with the legacy
    /// devices and the SCI, which is level on IRQ 9 through its MADT override). Never an input PCI uses: the DSDT gives PCI routes active-low and virtio-mmio
    /// active-high, and Linux refuses an input asked for with two polarities (KVM itself ignores polarity).
    /// </summary>
    public static uint? VirtioMmioGsi(int index, int pciDevices)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(index);
        ArgumentOutOfRangeException.ThrowIfNegative(pciDevices);
        var free = pciDevices >= PciGsiCount ? 0u : PciGsiCount - (uint)pciDevices;
        return free == 0 ? null : IoApicPinCount - 1 - ((uint)index % free);
    }

    /// <summary>Start of virtio-mmio device <paramref name="index"/>'s register window.</summary>
    public static ulong VirtioMmioWindow(int index) => VirtioMmioStart + ((ulong)index * VirtioMmioSize);

    /// <summary>I/O APIC registers (default PC address; emulated in the kernel).</summary>
    public const ulong IoApicStart = 0xFEC0_0000;

    /// <summary>Size of the I/O APIC register window.</summary>
    public const ulong IoApicSize = 0x1000;

    /// <summary>Local APIC registers (default PC address, per vCPU; emulated in the kernel).</summary>
    public const ulong LapicStart = 0xFEE0_0000;

    /// <summary>x86 MSI address window (0xFEEx_xxxx): a write here is an interrupt message for the local APICs.</summary>
    public const ulong MsiWindowStart = 0xFEE0_0000;

    /// <summary>Size of the MSI address window (1 MiB).</summary>
    public const ulong MsiWindowSize = 0x10_0000;

    /// <summary>KVM_SET_IDENTITY_MAP_ADDR: one page KVM uses for the real-mode identity map on Intel VMX.</summary>
    public const ulong KvmIdentityMapAddress = 0xfffb_c000;

    /// <summary>KVM_SET_TSS_ADDR: three pages KVM uses for the real-mode TSS on Intel VMX, after the identity map.</summary>
    public const ulong KvmTssAddress = 0xfffb_d000;

    /// <summary>Size of KVM's TSS area.</summary>
    public const ulong KvmTssSize = 3 * 0x1000;

    // ---- I/O ports --------------------------------------------------------------------------------

    /// <summary>i8042 keyboard controller: one window 0x60..0x64 (data, port B at 0x61, status/command at 0x64).</summary>
    public const ushort I8042Port = 0x60;

    /// <summary>CMOS / RTC: index 0x70, data 0x71.</summary>
    public const ushort CmosPort = 0x70;

    /// <summary>POST code / I/O delay port, written and ignored.</summary>
    public const ushort PostCodePort = 0x80;

    /// <summary>DMA page register some kernels poke, written and ignored.</summary>
    public const ushort DmaPage87Port = 0x87;

    /// <summary>System control port A: fast A20 gate and fast reset.</summary>
    public const ushort FastA20Port = 0x92;

    /// <summary>Alternative I/O delay port, written and ignored.</summary>
    public const ushort IoDelayPort = 0xed;

    /// <summary>COM4 (8 ports).</summary>
    public const ushort Com4Port = 0x2e8;

    /// <summary>COM2 (8 ports).</summary>
    public const ushort Com2Port = 0x2f8;

    /// <summary>COM3 (8 ports).</summary>
    public const ushort Com3Port = 0x3e8;

    /// <summary>COM1 (8 ports): the serial console, ttyS0.</summary>
    public const ushort Com1Port = 0x3f8;

    /// <summary>pvpanic (QEMU's ISA device, ACPI id QEMU0001): one byte, the guest writes 1 when its kernel panics.</summary>
    public const ushort PvPanicPort = 0x505;

    /// <summary>ACPI fixed hardware (as QEMU's PIIX4 PM): PM1a event block (status, enable), 4 bytes.</summary>
    public const ushort AcpiPm1aEventPort = 0x600;

    /// <summary>ACPI PM1a control block (SCI_EN, SLP_TYP, SLP_EN), 2 bytes.</summary>
    public const ushort AcpiPm1aControlPort = 0x604;

    /// <summary>ACPI PM timer, 4 bytes (3.579545 MHz, 32-bit).</summary>
    public const ushort AcpiPmTimerPort = 0x608;

    /// <summary>SLP_TYP the DSDT's <c>\_S5</c> names: PM1a_CNT with this type and SLP_EN powers the VM off.</summary>
    public const ushort AcpiS5SleepType = 5;

    /// <summary>The ACPI PM block's whole port window (event, control, timer).</summary>
    public const ushort AcpiPmPortCount = 12;

    /// <summary>PCI configuration mechanism #1: CONFIG_ADDRESS at 0xcf8, CONFIG_DATA at 0xcfc..0xcff.</summary>
    public const ushort PciConfigPort = 0xcf8;

    // ---- ISA IRQs and GSIs ------------------------------------------------------------------------

    /// <summary>ISA IRQ of the keyboard (replies to keyboard commands).</summary>
    public const uint KeyboardIrq = 1;

    /// <summary>ISA IRQ of COM2 and COM4.</summary>
    public const uint Com2Irq = 3;

    /// <summary>ISA IRQ of COM1 and COM3.</summary>
    public const uint Com1Irq = 4;

    /// <summary>ACPI system control interrupt (level, active high, as QEMU's PC).</summary>
    public const uint SciIrq = 9;

    /// <summary>ISA IRQs 0-15: GSIs 0-15, on the PICs and the I/O APIC pins of the same number.</summary>
    public const uint IsaIrqCount = 16;

    /// <summary>Inputs of KVM's in-kernel I/O APIC: GSIs 0-23.</summary>
    public const uint IoApicPinCount = 24;

    /// <summary>First GSI for PCI INTx: the I/O APIC inputs above the ISA IRQs.</summary>
    public const uint FirstPciGsi = IsaIrqCount;

    /// <summary>GSIs for PCI INTx (16-23), shared round-robin by the PCI devices.</summary>
    public const uint PciGsiCount = IoApicPinCount - FirstPciGsi;

    /// <summary>First GSI for MSI routes: the first past the I/O APIC's pins.</summary>
    public const uint FirstMsiGsi = IoApicPinCount;

    /// <summary>MSI GSIs handed out at most (KVM allows 1024 routes or more; a few devices need a few dozen).</summary>
    public const uint MaxMsiGsis = 1000;

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
