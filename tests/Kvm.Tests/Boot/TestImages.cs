using System.Buffers.Binary;
using ActorVmm.Kvm.Memory;

namespace ActorVmm.Kvm.Tests.Boot;

/// <summary>Synthetic kernel images and guest memory for the boot tests.</summary>
internal static class TestImages
{
    public const string DebianKernel = "/boot/vmlinuz-6.1.0-56-amd64";

    public const ulong MiB = 1024 * 1024;

    public static GuestMemory Ram(ulong size) => GuestMemory.Create(Layout.ArchMemoryRegions(size));

    /// <summary>A minimal bzImage: boot sector + setup sectors with a 2.15 header, then a patterned protected-mode payload.</summary>
    public static byte[] BzImage(
        int payloadSize = 0x2000,
        byte setupSects = 4,
        ushort version = 0x020f,
        uint initSize = 0x10_0000,
        uint kernelAlignment = 0x20_0000,
        ulong prefAddress = 0x100_0000,
        byte relocatable = 1,
        ushort xloadflags = 0x3,
        byte loadflags = 0x1,
        uint cmdlineSize = 2047,
        uint initrdAddrMax = 0x7fff_ffff)
    {
        var setupSize = ((setupSects == 0 ? 4 : setupSects) + 1) * 512;
        var image = new byte[setupSize + payloadSize];
        var s = image.AsSpan();
        s[0x1f1] = setupSects;
        BinaryPrimitives.WriteUInt32LittleEndian(s[0x1f4..], (uint)(payloadSize / 16));
        BinaryPrimitives.WriteUInt16LittleEndian(s[0x1fe..], 0xAA55);
        s[0x200] = 0xeb;
        s[0x201] = 0x6a; // header ends at 0x26c
        s[0x202] = (byte)'H';
        s[0x203] = (byte)'d';
        s[0x204] = (byte)'r';
        s[0x205] = (byte)'S';
        BinaryPrimitives.WriteUInt16LittleEndian(s[0x206..], version);
        s[0x211] = loadflags;
        BinaryPrimitives.WriteUInt32LittleEndian(s[0x214..], 0x10_0000);
        BinaryPrimitives.WriteUInt32LittleEndian(s[0x22c..], initrdAddrMax);
        BinaryPrimitives.WriteUInt32LittleEndian(s[0x230..], kernelAlignment);
        s[0x234] = relocatable;
        BinaryPrimitives.WriteUInt16LittleEndian(s[0x236..], xloadflags);
        BinaryPrimitives.WriteUInt32LittleEndian(s[0x238..], cmdlineSize);
        BinaryPrimitives.WriteUInt64LittleEndian(s[0x258..], prefAddress);
        BinaryPrimitives.WriteUInt32LittleEndian(s[0x260..], initSize);
        for (var i = 0; i < payloadSize; i++)
        {
            image[setupSize + i] = (byte)(i * 7 + 3);
        }

        return image;
    }

    /// <summary>One ELF64 program header.</summary>
    public sealed record Segment(uint Type, ulong Offset, ulong PhysicalAddress, ulong FileSize, ulong MemorySize);

    /// <summary>
    /// A minimal ELF64 x86-64 executable: header, program headers, then a data area of <paramref name="dataSize"/>
    /// patterned bytes at file offset 0x1000 that the segments point into.
    /// </summary>
    public static byte[] Elf(ulong entry, IReadOnlyList<Segment> segments, int dataSize = 0x3000,
        ushort machine = 62, byte elfClass = 2, ushort phentsize = 56)
    {
        var image = new byte[0x1000 + dataSize];
        var s = image.AsSpan();
        s[0] = 0x7f;
        s[1] = (byte)'E';
        s[2] = (byte)'L';
        s[3] = (byte)'F';
        s[4] = elfClass;
        s[5] = 1;
        s[6] = 1;
        BinaryPrimitives.WriteUInt16LittleEndian(s[16..], 2);
        BinaryPrimitives.WriteUInt16LittleEndian(s[18..], machine);
        BinaryPrimitives.WriteUInt32LittleEndian(s[20..], 1);
        BinaryPrimitives.WriteUInt64LittleEndian(s[24..], entry);
        BinaryPrimitives.WriteUInt64LittleEndian(s[32..], 64);
        BinaryPrimitives.WriteUInt16LittleEndian(s[52..], 64);
        BinaryPrimitives.WriteUInt16LittleEndian(s[54..], phentsize);
        BinaryPrimitives.WriteUInt16LittleEndian(s[56..], (ushort)segments.Count);
        for (var i = 0; i < segments.Count; i++)
        {
            var ph = s.Slice(64 + i * 56, 56);
            var seg = segments[i];
            BinaryPrimitives.WriteUInt32LittleEndian(ph, seg.Type);
            BinaryPrimitives.WriteUInt32LittleEndian(ph[4..], 7);
            BinaryPrimitives.WriteUInt64LittleEndian(ph[8..], seg.Offset);
            BinaryPrimitives.WriteUInt64LittleEndian(ph[16..], 0xffff_ffff_8000_0000 + seg.PhysicalAddress);
            BinaryPrimitives.WriteUInt64LittleEndian(ph[24..], seg.PhysicalAddress);
            BinaryPrimitives.WriteUInt64LittleEndian(ph[32..], seg.FileSize);
            BinaryPrimitives.WriteUInt64LittleEndian(ph[40..], seg.MemorySize);
            BinaryPrimitives.WriteUInt64LittleEndian(ph[48..], 0x1000);
        }

        for (var i = 0; i < dataSize; i++)
        {
            image[0x1000 + i] = (byte)(i * 13 + 1);
        }

        return image;
    }

    /// <summary>A stream that refuses to seek, like a pipe.</summary>
    public sealed class NonSeekableStream(Stream inner) : Stream
    {
        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => throw new NotSupportedException();

        public override long Position
        {
            get => throw new NotSupportedException();
            set => throw new NotSupportedException();
        }

        public override void Flush()
        {
        }

        public override int Read(byte[] buffer, int offset, int count) => inner.Read(buffer, offset, Math.Min(count, 777));

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }

    /// <summary>A stream that fails with an I/O error after some bytes, like a disk error.</summary>
    public sealed class FailingStream(int failAfter) : Stream
    {
        private int _position;

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => throw new NotSupportedException();

        public override long Position
        {
            get => throw new NotSupportedException();
            set => throw new NotSupportedException();
        }

        public override void Flush()
        {
        }

        public override int Read(byte[] buffer, int offset, int count)
        {
            if (_position >= failAfter)
            {
                throw new IOException("simulated read error");
            }

            var n = Math.Min(count, failAfter - _position);
            Array.Clear(buffer, offset, n);
            _position += n;
            return n;
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
