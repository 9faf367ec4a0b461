using ActorVmm.Kvm.Interop;
using ActorVmm.Kvm.X86;
using Xunit;

namespace ActorVmm.Kvm.Tests.X86;

public class VmKvmStateCodecTests
{
    private static VmKvmState Sample()
    {
        var master = new KvmIrqchip { ChipId = KvmIrqchip.PicMaster };
        master.Chip[0] = 0x20;
        var slave = new KvmIrqchip { ChipId = KvmIrqchip.PicSlave };
        var ioapic = new KvmIrqchip { ChipId = KvmIrqchip.Ioapic };
        ioapic.Chip[511] = 0xff;
        var pit = new KvmPitState2 { Flags = KvmPitState2.FlagSpeakerDataOn };
        pit.Channels[0].Count = 65536;
        pit.Channels[2].CountLoadTime = -5;
        var clock = new KvmClockData { Clock = 123_456_789, Flags = KvmClockData.FlagTscStable };
        return new VmKvmState(master, slave, ioapic, pit, clock);
    }

    private static byte[] Encode(VmKvmState state)
    {
        using var stream = new MemoryStream();
        using (var w = new BinaryWriter(stream, System.Text.Encoding.UTF8, leaveOpen: true))
        {
            VmKvmStateCodec.Write(w, state);
        }

        return stream.ToArray();
    }

    private static VmKvmState Decode(byte[] bytes)
    {
        using var r = new BinaryReader(new MemoryStream(bytes));
        return VmKvmStateCodec.Read(r);
    }

    [Fact]
    public void State_should_round_trip_every_field()
    {
        var back = Decode(Encode(Sample()));

        Assert.Equal(Encode(Sample()), Encode(back));
        Assert.Equal((0x20, 0xff), (back.PicMaster.Chip[0], back.Ioapic.Chip[511]));
        Assert.Equal((65536u, -5L), (back.Pit.Channels[0].Count, back.Pit.Channels[2].CountLoadTime));
        Assert.Equal(123_456_789UL, back.Clock.Clock);
    }

    [Fact]
    public void Reading_a_stream_cut_at_any_position_should_throw_InvalidDataException()
    {
        var bytes = Encode(Sample());

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
        var pitLengthOffset = 3 * (4 + 520);
        BitConverter.TryWriteBytes(bytes.AsSpan(pitLengthOffset), 104);

        var e = Assert.Throws<InvalidDataException>(() => Decode(bytes));

        Assert.Equal("VM state: field Pit is 104 bytes, expected 112", e.Message);
    }

    [Fact]
    public void Chips_in_the_wrong_slot_should_be_refused()
    {
        var state = Sample() with { PicSlave = new KvmIrqchip { ChipId = KvmIrqchip.Ioapic } };

        var e = Assert.Throws<InvalidDataException>(() => Decode(Encode(state)));

        Assert.Contains("PicSlave", e.Message);
    }
}
