using ActorVmm.Kvm;
using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using System.Text;
using ActorVmm.Kvm.Interop;
using Xunit;

namespace ActorVmm.Kvm.Tests.Interop;

/// <summary>
/// The KVM binary statistics layout (struct kvm_stats_header / kvm_stats_desc in &lt;linux/kvm.h&gt;) and its parser
/// fed crafted stats "files": values by name, histograms skipped, and malformed layouts refused with a KvmException.
/// </summary>
public class KvmStatsLayoutTests
{
    private const int NameSize = 48;

    [Fact]
    public void KvmStatsHeader_should_be_24_bytes_of_six_u32()
    {
        var h = default(KvmStatsHeader);

        Assert.Equal(24, Unsafe.SizeOf<KvmStatsHeader>());
        Assert.Equal(0, Offset(ref h, ref h.Flags));
        Assert.Equal(4, Offset(ref h, ref h.NameSize));
        Assert.Equal(8, Offset(ref h, ref h.NumDesc));
        Assert.Equal(12, Offset(ref h, ref h.IdOffset));
        Assert.Equal(16, Offset(ref h, ref h.DescOffset));
        Assert.Equal(20, Offset(ref h, ref h.DataOffset));
    }

    [Fact]
    public void KvmStatsDesc_should_be_16_bytes_before_its_name()
    {
        var d = default(KvmStatsDesc);

        Assert.Equal(16, Unsafe.SizeOf<KvmStatsDesc>());
        Assert.Equal(0, Offset(ref d, ref d.Flags));
        Assert.Equal(4, Offset(ref d, ref d.Exponent));
        Assert.Equal(6, Offset(ref d, ref d.Size));
        Assert.Equal(8, Offset(ref d, ref d.Offset));
        Assert.Equal(12, Offset(ref d, ref d.BucketSize));
    }

    [Fact]
    public void KVM_GET_STATS_FD_should_be_IO_KVMIO_0xce()
    {
        Assert.Equal((nuint)0xAECE, KvmIoctls.GetStatsFd.Number);
    }

    [Fact]
    public void Read_should_return_counters_by_name_and_skip_histograms()
    {
        var file = new StatsFile("kvm-42/vcpu-0")
            .Counter("exits", 0, 1234)
            .Histogram("halt_poll_success_hist", 8, 4)
            .Counter("io_exits", 40, 100)
            .Counter("mmio_exits", 48, 2);

        using var stats = file.Open();
        var values = stats.Read();

        Assert.Equal("kvm-42/vcpu-0", stats.Id);
        Assert.Equal(["exits", "halt_poll_success_hist", "io_exits", "mmio_exits"], stats.Descriptors.Select(d => d.Name));
        Assert.True(stats.Descriptors[1].IsHistogram);
        Assert.Equal(KvmStatType.LinearHistogram, stats.Descriptors[1].Type);
        Assert.Equal(3, values.Count);
        Assert.Equal(1234UL, values["exits"]);
        Assert.Equal(100UL, values["io_exits"]);
        Assert.Equal(2UL, values["mmio_exits"]);
    }

    [Fact]
    public void Read_should_see_new_values_on_each_call()
    {
        var file = new StatsFile("vm").Counter("exits", 0, 1);
        using var stats = file.Open();

        var first = stats.Read()["exits"];
        file.SetValue(0, 7);
        var second = stats.Read()["exits"];

        Assert.Equal(1UL, first);
        Assert.Equal(7UL, second);
    }

    [Theory]
    [InlineData(0u)]
    [InlineData(4097u)]
    [InlineData(uint.MaxValue)]
    public void Open_should_refuse_a_name_size_out_of_range(uint nameSize)
    {
        var file = new StatsFile("vm").Counter("exits", 0, 1);
        file.Patch(4, nameSize);

        var e = Assert.Throws<KvmException>(() => file.Open());
        Assert.Contains("name size", e.Message);
    }

    [Fact]
    public void Open_should_refuse_a_huge_descriptor_count()
    {
        var file = new StatsFile("vm").Counter("exits", 0, 1);
        file.Patch(8, uint.MaxValue);

        var e = Assert.Throws<KvmException>(() => file.Open());
        Assert.Contains("descriptors", e.Message);
    }

    [Fact]
    public void Open_should_refuse_descriptors_past_the_end_of_the_file()
    {
        var file = new StatsFile("vm").Counter("exits", 0, 1);
        file.Patch(8, 1000);

        var e = Assert.Throws<KvmException>(() => file.Open());
        Assert.Contains("descriptors ends", e.Message);
    }

    [Theory]
    [InlineData(uint.MaxValue)]
    [InlineData(3u)]
    [InlineData(1u << 24)]
    public void Open_should_refuse_a_value_outside_the_data_block_bound_or_misaligned(uint offset)
    {
        var file = new StatsFile("vm").Counter("exits", offset, 1);

        var e = Assert.Throws<KvmException>(() => file.Open());
        Assert.Contains("data offset", e.Message);
    }

    [Fact]
    public void Read_should_fail_when_the_data_block_is_short()
    {
        var file = new StatsFile("vm").Counter("exits", 0, 1).Counter("io_exits", 1u << 20, 1);
        using var stats = file.Open();

        var e = Assert.Throws<KvmException>(() => stats.Read());
        Assert.Contains("data block ends", e.Message);
    }

    [Fact]
    public void Read_errors_should_carry_the_errno()
    {
        var e = Assert.Throws<KvmException>(() => KvmStatsFd.FromReader((_, _) => -5));

        Assert.Equal(5, e.Errno);
    }

    private static int Offset<TStruct, TField>(ref TStruct s, ref TField f) =>
        (int)Unsafe.ByteOffset(ref Unsafe.As<TStruct, byte>(ref s), ref Unsafe.As<TField, byte>(ref f));

    /// <summary>A stats file laid out as the kernel does: header, id, descriptors, then data (each value at its offset).</summary>
    private sealed class StatsFile(string id)
    {
        private readonly List<(string Name, uint Flags, ushort Size, uint Offset, ulong Value)> _stats = [];
        private byte[]? _bytes;
        private readonly Dictionary<int, uint> _patches = [];

        public PositionalRead Reader => (offset, buffer) =>
        {
            var bytes = Bytes();
            if (offset >= bytes.Length)
            {
                return 0;
            }

            var n = (int)Math.Min(buffer.Length, bytes.Length - offset);
            bytes.AsSpan((int)offset, n).CopyTo(buffer);
            return n;
        };

        public StatsFile Counter(string name, uint offset, ulong value)
        {
            _stats.Add((name, 0, 1, offset, value));
            return this;
        }

        public StatsFile Histogram(string name, uint offset, ushort buckets)
        {
            _stats.Add((name, 3, buckets, offset, 0));
            return this;
        }

        public void Patch(int headerOffset, uint value) => _patches[headerOffset] = value;

        public void SetValue(int index, ulong value)
        {
            var s = _stats[index];
            _stats[index] = s with { Value = value };
            _bytes = null;
        }

        public KvmStatsFd Open() => KvmStatsFd.FromReader(Reader);

        private byte[] Bytes()
        {
            if (_bytes is not null)
            {
                return _bytes;
            }

            const int headerSize = 24;
            var idOffset = headerSize;
            var descOffset = idOffset + NameSize;
            var stride = 16 + NameSize;
            var dataOffset = descOffset + (stride * _stats.Count);
            var dataSize = _stats.Count == 0 ? 0 : (int)Math.Min(1 << 16, _stats.Max(s => (long)s.Offset + (8L * s.Size)));
            var bytes = new byte[dataOffset + dataSize];
            var span = bytes.AsSpan();
            BinaryPrimitives.WriteUInt32LittleEndian(span[4..], NameSize);
            BinaryPrimitives.WriteUInt32LittleEndian(span[8..], (uint)_stats.Count);
            BinaryPrimitives.WriteUInt32LittleEndian(span[12..], (uint)idOffset);
            BinaryPrimitives.WriteUInt32LittleEndian(span[16..], (uint)descOffset);
            BinaryPrimitives.WriteUInt32LittleEndian(span[20..], (uint)dataOffset);
            Encoding.ASCII.GetBytes(id).CopyTo(span[idOffset..]);
            for (var i = 0; i < _stats.Count; i++)
            {
                var s = _stats[i];
                var d = span[(descOffset + (i * stride))..];
                BinaryPrimitives.WriteUInt32LittleEndian(d, s.Flags);
                BinaryPrimitives.WriteUInt16LittleEndian(d[6..], s.Size);
                BinaryPrimitives.WriteUInt32LittleEndian(d[8..], s.Offset);
                Encoding.ASCII.GetBytes(s.Name).CopyTo(d[16..]);
                if ((long)s.Offset + 8 <= dataSize)
                {
                    BinaryPrimitives.WriteUInt64LittleEndian(span[(dataOffset + (int)s.Offset)..], s.Value);
                }
            }

            foreach (var (at, value) in _patches)
            {
                BinaryPrimitives.WriteUInt32LittleEndian(span[at..], value);
            }

            _bytes = bytes;
            return bytes;
        }
    }
}
