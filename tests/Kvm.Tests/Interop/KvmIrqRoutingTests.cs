using System.Runtime.CompilerServices;
using ActorVmm.Kvm.Interop;
using Xunit;

namespace ActorVmm.Kvm.Tests.Interop;

/// <summary>struct kvm_irq_routing (&lt;linux/kvm.h&gt;: __u32 nr, __u32 flags, then the entries) and KVM's default x86 table.</summary>
public class KvmIrqRoutingTests
{
    [Fact]
    public void KvmIrqRouting_header_should_be_nr_then_flags_in_8_bytes()
    {
        var s = new KvmIrqRouting { Nr = 0x11223344, Flags = 0x55667788 };
        ReadOnlySpan<byte> bytes = System.Runtime.InteropServices.MemoryMarshal.AsBytes(new ReadOnlySpan<KvmIrqRouting>(in s));

        Assert.Equal(8, Unsafe.SizeOf<KvmIrqRouting>());
        Assert.Equal(new byte[] { 0x44, 0x33, 0x22, 0x11, 0x88, 0x77, 0x66, 0x55 }, bytes.ToArray());
    }

    [Fact]
    public void X86_default_should_route_gsis_0_to_15_to_ioapic_and_pic_and_16_to_23_to_the_ioapic_only()
    {
        var table = KvmIrqRouting.X86Default();

        Assert.Equal(40, table.Length);
        Assert.All(table, e => Assert.Equal(KvmIrqRoutingEntry.TypeIrqchip, e.Type));
        for (uint gsi = 0; gsi < 24; gsi++)
        {
            var routes = table.Where(e => e.Gsi == gsi).Select(e => (e.Irqchip, e.Pin)).ToList();
            var expected = new List<(uint, uint)> { (KvmIrqRoutingEntry.IrqchipIoapic, gsi) };
            if (gsi < 16)
            {
                expected.Add((gsi < 8 ? KvmIrqRoutingEntry.IrqchipPicMaster : KvmIrqRoutingEntry.IrqchipPicSlave, gsi % 8));
            }

            Assert.Equal(expected, routes);
        }
    }

    [Fact]
    public void ForMsi_should_split_the_address_and_keep_the_data()
    {
        var e = KvmIrqRoutingEntry.ForMsi(30, 0x0000_0001_FEE0_1000, 0x4041);

        Assert.Equal((30u, KvmIrqRoutingEntry.TypeMsi), (e.Gsi, e.Type));
        Assert.Equal((0xFEE0_1000u, 1u, 0x4041u), (e.MsiAddressLo, e.MsiAddressHi, e.MsiData));
    }
}
