using ActorVmm.Kvm.Interop;
using ActorVmm.Kvm.X86;
using Xunit;

namespace ActorVmm.Kvm.Tests.X86;

public class VcpuStateCodecTests
{
    internal static VcpuState Sample(int xsaveBytes = 4096, int msrCount = 3)
    {
        var sregs = new KvmSregs { Cr0 = 0x8000_0011, Cr3 = 0x9000, Efer = 0x500 };
        sregs.Cs.Selector = 8;
        var xcrs = new KvmXcrs { NrXcrs = 1 };
        xcrs.Xcrs[0].Value = 7;
        var lapic = default(KvmLapicState);
        lapic.SetRegister(0x20, 0x0100_0000);
        var events = new KvmVcpuEvents { Flags = KvmVcpuEvents.ValidShadow, InterruptShadow = 1, ExceptionPayload = 0xdead };
        var debug = new KvmDebugRegs { Dr6 = 0xffff_0ff0, Dr7 = 0x400 };
        debug.Db[2] = 0x1234;
        var xsave = Enumerable.Range(0, xsaveBytes).Select(i => (byte)(i * 7)).ToArray();
        var msrs = Enumerable.Range(0, msrCount).Select(i => new KvmMsrEntry((uint)(0x10 + i), (ulong)i * 0x1111)).ToArray();
        return new VcpuState(2, new KvmRegs { Rax = 1, Rbx = 42, Rip = 0x1000, Rflags = 2 }, sregs, xsave, xcrs, msrs,
            lapic, events, 3, debug, 2_500_000);
    }

    internal static byte[] Encode(VcpuState state)
    {
        using var stream = new MemoryStream();
        using (var w = new BinaryWriter(stream, System.Text.Encoding.UTF8, leaveOpen: true))
        {
            VcpuStateCodec.Write(w, state);
        }

        return stream.ToArray();
    }

    private static VcpuState Decode(byte[] bytes)
    {
        using var r = new BinaryReader(new MemoryStream(bytes));
        return VcpuStateCodec.Read(r);
    }

    [Fact]
    public void State_should_round_trip_every_field()
    {
        var state = Sample(xsaveBytes: 11008, msrCount: 40);

        var back = Decode(Encode(state));

        Assert.Equal(Encode(state), Encode(back));
        Assert.Equal((2, 42UL, 0x9000UL, 3u, 2_500_000u), (back.Id, back.Regs.Rbx, back.Sregs.Cr3, back.MpState, back.TscKhz));
        Assert.Equal(state.Xsave, back.Xsave);
        Assert.Equal(state.Msrs, back.Msrs);
        Assert.Equal(7UL, back.Xcrs.Xcrs[0].Value);
        Assert.Equal(0x0100_0000u, back.Lapic.GetRegister(0x20));
        Assert.Equal((1, 0xdeadUL), (back.Events.InterruptShadow, back.Events.ExceptionPayload));
        Assert.Equal((0x1234UL, 0x400UL), (back.DebugRegs.Db[2], back.DebugRegs.Dr7));
    }

    [Fact]
    public void Reading_a_stream_cut_at_any_position_should_throw_InvalidDataException()
    {
        var bytes = Encode(Sample(xsaveBytes: 64, msrCount: 2));

        for (var length = 0; length < bytes.Length; length++)
        {
            var cut = bytes[..length];
            var e = Record.Exception(() => Decode(cut));
            Assert.True(e is InvalidDataException, $"cut at {length} of {bytes.Length}: {e?.GetType().Name ?? "no exception"}");
        }
    }

    [Fact]
    public void A_struct_of_the_wrong_size_should_be_refused_naming_the_field()
    {
        var bytes = Encode(Sample());
        var regsLength = 4; // after the id
        BitConverter.TryWriteBytes(bytes.AsSpan(regsLength), 143);

        var e = Assert.Throws<InvalidDataException>(() => Decode(bytes));

        Assert.Contains("Regs", e.Message);
        Assert.Contains("143", e.Message);
    }

    [Theory]
    [InlineData(VcpuStateCodec.MaxXsaveBytes + 1)]
    [InlineData(-1)]
    [InlineData(int.MaxValue)]
    public void An_xsave_length_out_of_bounds_should_be_refused_without_allocating_it(int length)
    {
        var bytes = Encode(Sample());
        var xsaveLengthOffset = 4 + 4 + 144 + 4 + 312;
        BitConverter.TryWriteBytes(bytes.AsSpan(xsaveLengthOffset), length);

        var e = Assert.Throws<InvalidDataException>(() => Decode(bytes));

        Assert.Contains("Xsave", e.Message);
    }

    [Theory]
    [InlineData((SnapshotMsrs.MaxMsrs + 1) * 16)]
    [InlineData(17)]
    public void An_msr_blob_too_long_or_not_whole_entries_should_be_refused(int length)
    {
        var state = Sample(xsaveBytes: 4096, msrCount: 3);
        var bytes = Encode(state);
        var msrLengthOffset = 4 + 4 + 144 + 4 + 312 + 4 + 4096 + 4 + 392;
        Assert.Equal(3 * 16, BitConverter.ToInt32(bytes, msrLengthOffset));
        BitConverter.TryWriteBytes(bytes.AsSpan(msrLengthOffset), length);

        var e = Assert.Throws<InvalidDataException>(() => Decode(bytes));

        Assert.Contains("Msrs", e.Message);
    }

    [Fact]
    public void Writing_more_msrs_than_the_bound_should_be_refused()
    {
        var state = Sample(msrCount: SnapshotMsrs.MaxMsrs + 1);

        Assert.Throws<ArgumentException>(() => Encode(state));
    }
}
