using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using ActorVmm.Kvm.Interop;
using Xunit;

namespace ActorVmm.Kvm.Tests.Interop;

/// <summary>Exit decoding on a fake kvm_run page: kernel-written offsets and lengths are bounds-checked.</summary>
public class ExitDecodingTests
{
    private const int MmapSize = 3 * 4096;

    private static byte[] Page(Action<Span<byte>> fill)
    {
        var page = new byte[MmapSize];
        fill(page);
        return page;
    }

    private static (VmExit Exit, int Offset, int Length) Decode(byte[] page)
    {
        ref var run = ref Unsafe.As<byte, KvmRun>(ref page[0]);
        var exit = Vcpu.DecodeExit(ref run, MmapSize, out var offset, out var length);
        return (exit, offset, length);
    }

    private static byte[] IoPage(byte direction, byte size, ushort port, uint count, ulong dataOffset) => Page(p =>
    {
        MemoryMarshal.Write(p[8..], KvmRun.ExitIo);
        p[32] = direction;
        p[33] = size;
        MemoryMarshal.Write(p[34..], port);
        MemoryMarshal.Write(p[36..], count);
        MemoryMarshal.Write(p[40..], dataOffset);
    });

    [Fact]
    public void Io_out_exit_should_decode_port_size_count_and_data_window()
    {
        var (exit, offset, length) = Decode(IoPage(KvmRunIo.DirectionOut, 1, 0x3f8, 1, 4096));

        Assert.Equal(new VmExit(VmExitKind.IoOut, 0x3f8, 1, 1), exit);
        Assert.Equal(4096, offset);
        Assert.Equal(1, length);
    }

    [Fact]
    public void String_io_in_exit_should_cover_size_times_count_bytes()
    {
        var (exit, offset, length) = Decode(IoPage(KvmRunIo.DirectionIn, 2, 0x1f0, 256, 4096));

        Assert.Equal(new VmExit(VmExitKind.IoIn, 0x1f0, 2, 256), exit);
        Assert.Equal(4096, offset);
        Assert.Equal(512, length);
    }

    [Theory]
    [InlineData(1, 1u, (ulong)MmapSize)]
    [InlineData(4, 1u, (ulong)MmapSize - 3)]
    [InlineData(4, 0x4000_0000u, 4096UL)]
    [InlineData(1, 1u, ulong.MaxValue)]
    [InlineData(3, 1u, 4096UL)]
    [InlineData(1, 0u, 4096UL)]
    public void Io_exit_with_data_outside_the_mapping_should_throw_not_touch_memory(byte size, uint count, ulong dataOffset)
    {
        var e = Assert.Throws<KvmException>(() => Decode(IoPage(KvmRunIo.DirectionOut, size, 0x80, count, dataOffset)));

        Assert.Equal("KVM_RUN", e.Ioctl);
    }

    [Fact]
    public void Mmio_write_exit_should_point_at_the_inline_data()
    {
        var page = Page(p =>
        {
            MemoryMarshal.Write(p[8..], KvmRun.ExitMmio);
            MemoryMarshal.Write(p[32..], 0xd000_0000UL);
            MemoryMarshal.Write(p[48..], 8u);
            p[52] = 1;
        });

        var (exit, offset, length) = Decode(page);

        Assert.Equal(new VmExit(VmExitKind.MmioWrite, 0xd000_0000, 8), exit);
        Assert.Equal(40, offset);
        Assert.Equal(8, length);
    }

    [Theory]
    [InlineData(0u)]
    [InlineData(9u)]
    [InlineData(uint.MaxValue)]
    public void Mmio_exit_longer_than_the_inline_data_should_throw(uint len)
    {
        var page = Page(p =>
        {
            MemoryMarshal.Write(p[8..], KvmRun.ExitMmio);
            MemoryMarshal.Write(p[48..], len);
        });

        Assert.Throws<KvmException>(() => Decode(page));
    }

    [Theory]
    [InlineData(KvmRun.ExitHlt, VmExitKind.Hlt, 0UL)]
    [InlineData(KvmRun.ExitShutdown, VmExitKind.Shutdown, 0UL)]
    [InlineData(KvmRun.ExitIntr, VmExitKind.Interrupted, 0UL)]
    [InlineData(12345u, VmExitKind.Unknown, 12345UL)]
    public void Other_exits_should_map_to_their_kind(uint reason, VmExitKind kind, ulong detail)
    {
        var page = Page(p => MemoryMarshal.Write(p[8..], reason));

        var (exit, _, length) = Decode(page);

        Assert.Equal(new VmExit(kind, Detail: detail), exit);
        Assert.Equal(0, length);
    }

    [Fact]
    public void System_event_and_internal_error_should_carry_their_detail()
    {
        var systemEvent = Page(p =>
        {
            MemoryMarshal.Write(p[8..], KvmRun.ExitSystemEvent);
            MemoryMarshal.Write(p[32..], 2u);
        });
        var internalError = Page(p =>
        {
            MemoryMarshal.Write(p[8..], KvmRun.ExitInternalError);
            MemoryMarshal.Write(p[32..], 1u);
        });

        Assert.Equal(new VmExit(VmExitKind.SystemEvent, Detail: 2), Decode(systemEvent).Exit);
        Assert.Equal(new VmExit(VmExitKind.InternalError, Detail: 1), Decode(internalError).Exit);
    }
}
