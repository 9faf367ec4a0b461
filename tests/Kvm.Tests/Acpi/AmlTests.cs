using ActorVmm.Kvm.Acpi;
using Xunit;

namespace ActorVmm.Kvm.Tests.Acpi;

public sealed class AmlTests
{
    [Theory]
    [InlineData(0, new byte[] { 0x01 })]
    [InlineData(62, new byte[] { 0x3F })]
    [InlineData(63, new byte[] { 0x41, 0x04 })] // 65 in all: low nibble 1, then 0x04
    [InlineData(0xFFD, new byte[] { 0x4F, 0xFF })] // 0xFFF in all: the largest 2-byte length
    [InlineData(0xFFE, new byte[] { 0x81, 0x00, 0x01 })] // 0x1001 in all
    [InlineData(0xFFFFC, new byte[] { 0x8F, 0xFF, 0xFF })] // 0xFFFFF in all: the largest 3-byte length
    [InlineData(0xFFFFD, new byte[] { 0xC1, 0x00, 0x00, 0x01 })] // 0x100001 in all
    [InlineData(0xFFFFFFB, new byte[] { 0xCF, 0xFF, 0xFF, 0xFF })] // 0xFFFFFFF in all: the largest
    public void PackageLength_should_count_itself_in_1_to_4_bytes(int body, byte[] expected)
    {
        Assert.Equal(expected, Aml.PackageLength(body));
    }

    [Fact]
    public void PackageLength_should_refuse_a_body_past_28_bits()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => Aml.PackageLength(0xFFFFFFC));
    }

    [Theory]
    [InlineData("_SB", new byte[] { 0x5F, 0x53, 0x42, 0x5F })]
    [InlineData("\\", new byte[] { 0x5C, 0x00 })]
    [InlineData("\\_S5", new byte[] { 0x5C, 0x5F, 0x53, 0x35, 0x5F })]
    [InlineData("^^PCI0", new byte[] { 0x5E, 0x5E, 0x50, 0x43, 0x49, 0x30 })]
    [InlineData("\\_SB.PCI0", new byte[] { 0x5C, 0x2E, 0x5F, 0x53, 0x42, 0x5F, 0x50, 0x43, 0x49, 0x30 })]
    [InlineData("\\_SB.PCI0.S08", new byte[] { 0x5C, 0x2F, 0x03, 0x5F, 0x53, 0x42, 0x5F, 0x50, 0x43, 0x49, 0x30, 0x53, 0x30, 0x38, 0x5F })]
    [InlineData("^A.B", new byte[] { 0x5E, 0x2E, 0x41, 0x5F, 0x5F, 0x5F, 0x42, 0x5F, 0x5F, 0x5F })]
    public void NameString_should_encode_prefixes_and_segments(string name, byte[] expected)
    {
        Assert.Equal(expected, Aml.NameString(name));
    }

    [Theory]
    [InlineData("PCI00")]
    [InlineData("0ABC")]
    [InlineData("pci0")]
    [InlineData("_SB..X")]
    [InlineData("A-B")]
    public void NameString_should_refuse_a_bad_segment(string name)
    {
        Assert.Throws<ArgumentException>(() => Aml.NameString(name));
    }

    [Theory]
    [InlineData(0UL, new byte[] { 0x00 })]
    [InlineData(1UL, new byte[] { 0x01 })]
    [InlineData(2UL, new byte[] { 0x0A, 0x02 })]
    [InlineData(0xFFUL, new byte[] { 0x0A, 0xFF })]
    [InlineData(0x100UL, new byte[] { 0x0B, 0x00, 0x01 })]
    [InlineData(0xFFFFUL, new byte[] { 0x0B, 0xFF, 0xFF })]
    [InlineData(0x1_0000UL, new byte[] { 0x0C, 0x00, 0x00, 0x01, 0x00 })]
    [InlineData(0xFFFF_FFFFUL, new byte[] { 0x0C, 0xFF, 0xFF, 0xFF, 0xFF })]
    [InlineData(0x1_0000_0000UL, new byte[] { 0x0E, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00 })]
    [InlineData(ulong.MaxValue, new byte[] { 0xFF })]
    public void Integer_should_take_the_shortest_encoding(ulong value, byte[] expected)
    {
        Assert.Equal(expected, Aml.Integer(value));
    }

    [Theory]
    [InlineData("PNP0A03", 0x030AD041u)]
    [InlineData("PNP0501", 0x0105D041u)]
    [InlineData("PNP0303", 0x0303D041u)]
    public void EisaId_should_compress_as_iasl_does(string id, uint expected)
    {
        Assert.Equal(expected, Aml.EisaIdValue(id));
    }

    [Theory]
    [InlineData("PNP0A0")]
    [InlineData("pnp0A03")]
    [InlineData("PNP0G03")]
    public void EisaId_should_refuse_a_malformed_id(string id)
    {
        Assert.Throws<ArgumentException>(() => Aml.EisaId(id));
    }

    [Fact]
    public void String_should_be_NUL_terminated_ascii()
    {
        Assert.Equal(new byte[] { 0x0D, 0x51, 0x45, 0x00 }, Aml.String("QE"));
        Assert.Throws<ArgumentException>(() => Aml.String("é"));
    }

    [Fact]
    public void Name_package_and_scope_should_nest_with_their_lengths()
    {
        var s5 = Aml.Scope("\\", Aml.Name("_S5", Aml.Package(Aml.Integer(5), Aml.Integer(0))));

        Assert.Equal(
            new byte[] { 0x10, 0x0E, 0x5C, 0x00, 0x08, 0x5F, 0x53, 0x35, 0x5F, 0x12, 0x05, 0x02, 0x0A, 0x05, 0x00 },
            s5);
    }

    [Fact]
    public void Device_and_method_should_use_their_opcodes()
    {
        var device = Aml.Device("DEV", Aml.MethodReturning("_STA", Aml.Integer(0x0F)));

        Assert.Equal(
            new byte[] { 0x5B, 0x82, 0x0F, 0x44, 0x45, 0x56, 0x5F, 0x14, 0x09, 0x5F, 0x53, 0x54, 0x41, 0x00, 0xA4, 0x0A, 0x0F },
            device);
    }

    [Fact]
    public void Buffer_should_carry_its_size_then_the_bytes()
    {
        Assert.Equal(new byte[] { 0x11, 0x05, 0x0A, 0x02, 0x79, 0x00 }, Aml.Buffer([0x79, 0x00]));
    }

    [Fact]
    public void Long_terms_should_take_a_multi_byte_length()
    {
        var big = Aml.Buffer(new byte[100]);

        Assert.Equal(0x11, big[0]);
        Assert.Equal(Aml.PackageLength(2 + 100), big[1..3]);
        Assert.Equal(1 + 2 + 2 + 100, big.Length);
    }

    [Fact]
    public void Resource_template_should_end_with_a_zero_checksum_end_tag()
    {
        var crs = AmlResource.Template(AmlResource.Io(0x3F8, 8), AmlResource.IrqNoFlags(4));

        Assert.Equal(new byte[] { 0x47, 0x01, 0xF8, 0x03, 0xF8, 0x03, 0x01, 0x08, 0x22, 0x10, 0x00, 0x79, 0x00 }, crs[4..]);
        Assert.Equal(crs.Length - 4, crs[3]); // BufferSize: BytePrefix, 13
    }

    [Fact]
    public void IrqNoFlags_should_refuse_a_non_isa_irq()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => AmlResource.IrqNoFlags(16));
    }
}
