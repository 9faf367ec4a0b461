using ActorVmm.Kvm.Boot;
using ActorVmm.Kvm.Memory;
using ActorVmm.Kvm.X86;
using Xunit;
using static ActorVmm.Kvm.Tests.Boot.TestImages;

namespace ActorVmm.Kvm.Tests.Boot;

public sealed class LongModeSetupTests
{
    [Fact]
    public void Gdt_entries_should_match_the_well_known_flat_descriptors()
    {
        Assert.Equal([0UL, 0x00af_9b00_0000_ffffUL, 0x00cf_9300_0000_ffffUL, 0x008f_8b00_0000_ffffUL], LongModeSetup.GdtEntries());
    }

    [Fact]
    public void Gdt_entry_should_round_trip_base_and_limit()
    {
        var entry = GdtEntry.Encode(0x4093, 0x1234_5678, 0xabcde);

        var segment = GdtEntry.Decode(entry, 0x28);

        Assert.Equal(0x1234_5678UL, segment.Base);
        Assert.Equal(0xabcdeu, segment.Limit);
        Assert.Equal((ushort)0x28, segment.Selector);
        Assert.Equal(3, segment.Type);
        Assert.True(segment.Db);
        Assert.False(segment.G);
    }

    [Fact]
    public void Write_should_put_gdt_idt_and_page_tables_in_guest_memory()
    {
        using var memory = Ram(32 * MiB);
        memory.Write(new GuestAddress(Layout.IdtStart), ulong.MaxValue);

        LongModeSetup.Write(memory, new GuestAddress(0x100200));

        for (var i = 0; i < 4; i++)
        {
            Assert.Equal(LongModeSetup.GdtEntries()[i], memory.Read<ulong>(new GuestAddress(Layout.GdtStart + (ulong)i * 8)));
        }

        Assert.Equal(0UL, memory.Read<ulong>(new GuestAddress(Layout.IdtStart)));
        Assert.Equal(Layout.PdpteStart | 3, memory.Read<ulong>(new GuestAddress(Layout.Pml4Start)));
        Assert.Equal(Layout.PdeStart | 3, memory.Read<ulong>(new GuestAddress(Layout.PdpteStart)));
        Assert.Equal(0x83UL, memory.Read<ulong>(new GuestAddress(Layout.PdeStart)));
        Assert.Equal((511UL << 21) | 0x83, memory.Read<ulong>(new GuestAddress(Layout.PdeStart + 511 * 8)));
    }

    [Theory]
    [InlineData(0UL)]
    [InlineData(0x7000UL)]
    [InlineData(0x123_4567UL)]
    [InlineData(0x3fff_ffffUL)]
    public void Page_tables_should_identity_map_the_first_GiB(ulong virtualAddress)
    {
        using var memory = Ram(32 * MiB);
        var state = LongModeSetup.Write(memory, new GuestAddress(0x100200));

        Assert.Equal(virtualAddress, Walk(memory, state.Cr3, virtualAddress));
    }

    [Fact]
    public void Page_tables_should_not_map_beyond_the_first_GiB()
    {
        using var memory = Ram(32 * MiB);
        var state = LongModeSetup.Write(memory, new GuestAddress(0x100200));

        Assert.Null(Walk(memory, state.Cr3, 0x4000_0000));
        Assert.Null(Walk(memory, state.Cr3, 0x80_0000_0000));
    }

    [Fact]
    public void Cpu_state_should_enter_long_mode_at_the_kernel_entry_with_the_zero_page_in_rsi()
    {
        using var memory = Ram(32 * MiB);
        var kernel = BzImageLoader.Load(memory, new MemoryStream(BzImage()));

        var s = LongModeSetup.Write(memory, kernel);

        Assert.Equal(0x100200UL, s.Rip);
        Assert.Equal(Layout.BootStackPointer, s.Rsp);
        Assert.Equal(Layout.BootStackPointer, s.Rbp);
        Assert.Equal(Layout.ZeroPageStart, s.Rsi);
        Assert.Equal(2UL, s.Rflags);
        Assert.Equal(0x8000_0011UL, s.Cr0);
        Assert.Equal(Layout.Pml4Start, s.Cr3);
        Assert.Equal(0x20UL, s.Cr4);
        Assert.Equal(0x500UL, s.Efer);
        Assert.Equal(new DescriptorTableState(Layout.GdtStart, 31), s.Gdt);
        Assert.Equal(new DescriptorTableState(Layout.IdtStart, 7), s.Idt);

        Assert.Equal(new SegmentState(0, 0xffff_ffff, 0x08, 0xb, true, 0, false, true, true, true, false, false), s.Cs);
        var data = new SegmentState(0, 0xffff_ffff, 0x10, 0x3, true, 0, true, true, false, true, false, false);
        Assert.Equal(data, s.Ds);
        Assert.Equal(data, s.Es);
        Assert.Equal(data, s.Fs);
        Assert.Equal(data, s.Gs);
        Assert.Equal(data, s.Ss);
        Assert.Equal(new SegmentState(0, 0xffff_ffff, 0x18, 0xb, true, 0, false, false, false, true, false, false), s.Tr);
        Assert.True(s.Ldt.Unusable);
    }

    [Fact]
    public void Elf_kernel_should_start_at_its_elf_entry_in_the_same_long_mode_state()
    {
        using var memory = Ram(32 * MiB);
        var image = Elf(0x100_0040, [new Segment(1, 0x1000, 0x100_0000, 0x1000, 0x1000)]);
        var kernel = ElfLoader.Load(memory, new MemoryStream(image));

        var elf = LongModeSetup.Write(memory, kernel);
        var bz = LongModeSetup.Write(memory, new GuestAddress(0x100200));

        Assert.Equal(0x100_0040UL, elf.Rip);
        Assert.Equal(bz with { Rip = elf.Rip }, elf);
    }

    [Fact]
    public void Guest_without_low_memory_should_be_refused()
    {
        using var memory = GuestMemory.Create([(new GuestAddress(0x100000), 0x100000)]);

        Assert.Equal(BootError.TableDoesNotFit, Assert.Throws<BootException>(() =>
            LongModeSetup.Write(memory, new GuestAddress(0x100000))).Error);
    }

    /// <summary>A 4-level page walk honouring 2 MiB pages; null when not present.</summary>
    private static ulong? Walk(GuestMemory memory, ulong cr3, ulong va)
    {
        var pml4e = memory.Read<ulong>(new GuestAddress((cr3 & ~0xfffUL) + ((va >> 39) & 0x1ff) * 8));
        if ((pml4e & 1) == 0)
        {
            return null;
        }

        var pdpte = memory.Read<ulong>(new GuestAddress((pml4e & 0xf_ffff_ffff_f000) + ((va >> 30) & 0x1ff) * 8));
        if ((pdpte & 1) == 0)
        {
            return null;
        }

        var pde = memory.Read<ulong>(new GuestAddress((pdpte & 0xf_ffff_ffff_f000) + ((va >> 21) & 0x1ff) * 8));
        if ((pde & 1) == 0 || (pde & 0x80) == 0)
        {
            return null;
        }

        return (pde & 0xf_ffff_ffe0_0000) + (va & 0x1f_ffff);
    }
}
