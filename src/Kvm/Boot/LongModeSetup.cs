using ActorVmm.Kvm.Memory;
using ActorVmm.Kvm.X86;

namespace ActorVmm.Kvm.Boot;

/// <summary>
/// Prepares the 64-bit boot protocol's CPU state: a GDT (null, 64-bit code, data, TSS), an empty IDT and
/// identity-mapped page tables for the first 1 GiB (2 MiB pages), all in guest memory; returns the register
/// state to load into the boot vCPU (paging on, long mode active, RIP at the kernel's 64-bit entry,
/// RSI at the zero page). No real mode is involved: the same state serves a bzImage and an ELF vmlinux.
/// </summary>
public static class LongModeSetup
{
    public const ulong Cr0Pe = 1UL << 0;
    public const ulong Cr0Et = 1UL << 4;
    public const ulong Cr0Pg = 1UL << 31;
    public const ulong Cr4Pae = 1UL << 5;
    public const ulong EferLme = 1UL << 8;
    public const ulong EferLma = 1UL << 10;

    /// <summary>RFLAGS with only the always-one bit 1 set.</summary>
    public const ulong InitialRflags = 0x2;

    /// <summary>Access/flags of the 64-bit code segment: present, DPL 0, code exec/read accessed, L, G.</summary>
    public const ushort CodeSegmentFlags = 0xa09b;

    /// <summary>Access/flags of the data segment: present, DPL 0, data read/write accessed, D/B, G.</summary>
    public const ushort DataSegmentFlags = 0xc093;

    /// <summary>Access/flags of the TSS: present, busy 64-bit TSS, G.</summary>
    public const ushort TssSegmentFlags = 0x808b;

    /// <summary>GDT slot of the code segment (selector 0x08).</summary>
    public const int CodeIndex = 1;

    /// <summary>GDT slot of the data segment (selector 0x10).</summary>
    public const int DataIndex = 2;

    /// <summary>GDT slot of the TSS (selector 0x18).</summary>
    public const int TssIndex = 3;

    private const ulong PagePresentWritable = 0x3;
    private const ulong PageSize2M = 0x80;

    /// <summary>Writes GDT, IDT and page tables and returns the boot vCPU state entering <paramref name="kernel"/>.</summary>
    /// <exception cref="BootException">Low guest RAM does not hold the boot tables.</exception>
    public static X86BootCpuState Write(GuestMemory memory, KernelLoadResult kernel)
    {
        ArgumentNullException.ThrowIfNull(kernel);
        return Write(memory, kernel.EntryPoint);
    }

    /// <summary>Writes GDT, IDT and page tables and returns the boot vCPU state starting at <paramref name="entryPoint"/>.</summary>
    /// <exception cref="BootException">Low guest RAM does not hold the boot tables.</exception>
    public static X86BootCpuState Write(GuestMemory memory, GuestAddress entryPoint)
    {
        ArgumentNullException.ThrowIfNull(memory);
        var gdt = GdtEntries();
        var gdtBytes = new byte[gdt.Length * 8];
        for (var i = 0; i < gdt.Length; i++)
        {
            BitConverter.TryWriteBytes(gdtBytes.AsSpan(i * 8), gdt[i]);
        }

        WriteTable(memory, Layout.GdtStart, gdtBytes, "GDT");
        WriteTable(memory, Layout.IdtStart, new byte[8], "IDT");
        WriteTable(memory, Layout.Pml4Start, PageTable(0, Layout.PdpteStart | PagePresentWritable, 1), "PML4");
        WriteTable(memory, Layout.PdpteStart, PageTable(0, Layout.PdeStart | PagePresentWritable, 1), "PDPT");
        WriteTable(memory, Layout.PdeStart, PageDirectory(), "page directory");

        var code = GdtEntry.Decode(gdt[CodeIndex], CodeIndex * 8);
        var data = GdtEntry.Decode(gdt[DataIndex], DataIndex * 8);
        var tss = GdtEntry.Decode(gdt[TssIndex], TssIndex * 8);
        return new X86BootCpuState(
            Rip: entryPoint.Value,
            Rsp: Layout.BootStackPointer,
            Rbp: Layout.BootStackPointer,
            Rsi: Layout.ZeroPageStart,
            Rflags: InitialRflags,
            Cr0: Cr0Pe | Cr0Et | Cr0Pg,
            Cr3: Layout.Pml4Start,
            Cr4: Cr4Pae,
            Efer: EferLme | EferLma,
            Cs: code,
            Ds: data,
            Es: data,
            Fs: data,
            Gs: data,
            Ss: data,
            Tr: tss,
            Ldt: SegmentState.Null,
            Gdt: new DescriptorTableState(Layout.GdtStart, (ushort)(gdt.Length * 8 - 1)),
            Idt: new DescriptorTableState(Layout.IdtStart, 8 - 1));
    }

    /// <summary>The four boot GDT descriptors: null, code, data, TSS (flat, 4 GiB limit).</summary>
    public static ulong[] GdtEntries() =>
    [
        0,
        GdtEntry.Encode(CodeSegmentFlags, 0, 0xfffff),
        GdtEntry.Encode(DataSegmentFlags, 0, 0xfffff),
        GdtEntry.Encode(TssSegmentFlags, 0, 0xfffff),
    ];

    private static byte[] PageTable(int index, ulong entry, int count)
    {
        var table = new byte[4096];
        for (var i = 0; i < count; i++)
        {
            BitConverter.TryWriteBytes(table.AsSpan((index + i) * 8), entry);
        }

        return table;
    }

    private static byte[] PageDirectory()
    {
        var table = new byte[4096];
        for (var i = 0; i < 512; i++)
        {
            BitConverter.TryWriteBytes(table.AsSpan(i * 8), ((ulong)i << 21) | PagePresentWritable | PageSize2M);
        }

        return table;
    }

    private static void WriteTable(GuestMemory memory, ulong address, byte[] bytes, string what)
    {
        if (!memory.TryWrite(new GuestAddress(address), bytes))
        {
            throw new BootException(BootError.TableDoesNotFit, $"{what} at 0x{address:x} is outside guest RAM");
        }
    }
}
