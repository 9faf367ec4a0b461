using System.Buffers.Binary;

namespace ActorVmm.Kvm.Acpi;

/// <summary>
/// Resource descriptors for a ResourceTemplate (ACPI 6.5, section 6.4): the few a PC's _CRS needs. Each method
/// returns one descriptor's bytes; <see cref="Template"/> joins them, adds the end tag and wraps them in a Buffer.
/// Address-space descriptors are written as a producer (bridge windows) with fixed minimum and maximum.
/// </summary>
public static class AmlResource
{
    private const byte SmallIo = 0x47;
    private const byte SmallIrq = 0x22; // IRQNoFlags: two mask bytes
    private const byte SmallEndTag = 0x79;
    private const byte LargeMemory32Fixed = 0x86;
    private const byte LargeDWordAddress = 0x87;
    private const byte LargeWordAddress = 0x88;
    private const byte LargeExtendedInterrupt = 0x89;
    private const byte LargeQWordAddress = 0x8A;

    private const byte SpaceMemory = 0;
    private const byte SpaceIo = 1;
    private const byte SpaceBusNumber = 2;

    /// <summary>General flags of a bridge window: producer, positive decode, minimum and maximum fixed.</summary>
    private const byte ProducerFixedWindow = 0x0C;

    /// <summary>ResourceTemplate() { descriptors }: a Buffer ending with the end tag (checksum 0: "not computed").</summary>
    public static byte[] Template(params byte[][] descriptors) => Aml.Buffer([.. Aml.Concat(descriptors), SmallEndTag, 0]);

    /// <summary>IO(Decode16, port, port, 1, length): a fixed port range.</summary>
    public static byte[] Io(ushort port, byte length)
    {
        var d = new byte[8];
        d[0] = SmallIo;
        d[1] = 0x01; // decodes 16 address bits
        BinaryPrimitives.WriteUInt16LittleEndian(d.AsSpan(2), port);
        BinaryPrimitives.WriteUInt16LittleEndian(d.AsSpan(4), port);
        d[6] = 1; // alignment
        d[7] = length;
        return d;
    }

    /// <summary>IRQNoFlags() { irq }: an ISA IRQ, edge-triggered and active high.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The IRQ is above 15.</exception>
    public static byte[] IrqNoFlags(uint irq)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThan(irq, 15u);
        var mask = (ushort)(1 << (int)irq);
        return [SmallIrq, (byte)mask, (byte)(mask >> 8)];
    }

    /// <summary>Memory32Fixed(ReadWrite, base, length).</summary>
    public static byte[] Memory32Fixed(uint baseAddress, uint length)
    {
        var d = Large(LargeMemory32Fixed, 9);
        d[3] = 0x01; // read-write
        BinaryPrimitives.WriteUInt32LittleEndian(d.AsSpan(4), baseAddress);
        BinaryPrimitives.WriteUInt32LittleEndian(d.AsSpan(8), length);
        return d;
    }

    /// <summary>Interrupt(ResourceConsumer, Level|Edge, ActiveHigh, Exclusive) { gsi }.</summary>
    public static byte[] ExtendedInterrupt(uint gsi, bool levelTriggered)
    {
        var d = Large(LargeExtendedInterrupt, 6);
        d[3] = (byte)(0x01 | (levelTriggered ? 0 : 0x02)); // consumer; bit 1: edge
        d[4] = 1; // one interrupt number
        BinaryPrimitives.WriteUInt32LittleEndian(d.AsSpan(5), gsi);
        return d;
    }

    /// <summary>WordBusNumber(ResourceProducer, MinFixed, MaxFixed, PosDecode, 0, min, max, 0, count).</summary>
    public static byte[] WordBusNumber(ushort min, ushort max) => WordAddress(SpaceBusNumber, 0, min, max);

    /// <summary>WordIO(ResourceProducer, MinFixed, MaxFixed, PosDecode, EntireRange, 0, min, max, 0, count).</summary>
    public static byte[] WordIo(ushort min, ushort max) => WordAddress(SpaceIo, 0x03, min, max);

    /// <summary>DWordMemory(ResourceProducer, PosDecode, MinFixed, MaxFixed, NonCacheable, ReadWrite, 0, min, max, 0, length).</summary>
    /// <exception cref="ArgumentException">The window is empty or ends past 4 GiB.</exception>
    public static byte[] DWordMemory(ulong start, ulong length)
    {
        if (length == 0 || start > uint.MaxValue || length - 1 > uint.MaxValue - start)
        {
            throw new ArgumentException($"32-bit memory window 0x{start:x} +0x{length:x} is empty or ends past 4 GiB");
        }

        var d = Large(LargeDWordAddress, 23);
        d[3] = SpaceMemory;
        d[4] = ProducerFixedWindow;
        d[5] = 0x01; // read-write, non-cacheable
        var span = d.AsSpan(6);
        BinaryPrimitives.WriteUInt32LittleEndian(span[4..], (uint)start);
        BinaryPrimitives.WriteUInt32LittleEndian(span[8..], (uint)(start + length - 1));
        BinaryPrimitives.WriteUInt32LittleEndian(span[16..], (uint)length);
        return d;
    }

    /// <summary>QWordMemory(ResourceProducer, PosDecode, MinFixed, MaxFixed, NonCacheable, ReadWrite, 0, min, max, 0, length).</summary>
    /// <exception cref="ArgumentException">The window is empty or wraps past 2^64.</exception>
    public static byte[] QWordMemory(ulong start, ulong length)
    {
        if (length == 0 || length - 1 > ulong.MaxValue - start)
        {
            throw new ArgumentException($"64-bit memory window 0x{start:x} +0x{length:x} is empty or wraps");
        }

        var d = Large(LargeQWordAddress, 43);
        d[3] = SpaceMemory;
        d[4] = ProducerFixedWindow;
        d[5] = 0x01;
        var span = d.AsSpan(6);
        BinaryPrimitives.WriteUInt64LittleEndian(span[8..], start);
        BinaryPrimitives.WriteUInt64LittleEndian(span[16..], start + length - 1);
        BinaryPrimitives.WriteUInt64LittleEndian(span[32..], length);
        return d;
    }

    private static byte[] WordAddress(byte space, byte typeFlags, ushort min, ushort max)
    {
        if (max < min)
        {
            throw new ArgumentException($"address range 0x{min:x}-0x{max:x} is empty");
        }

        var d = Large(LargeWordAddress, 13);
        d[3] = space;
        d[4] = ProducerFixedWindow;
        d[5] = typeFlags;
        var span = d.AsSpan(6);
        BinaryPrimitives.WriteUInt16LittleEndian(span[2..], min);
        BinaryPrimitives.WriteUInt16LittleEndian(span[4..], max);
        BinaryPrimitives.WriteUInt16LittleEndian(span[8..], (ushort)(max - min + 1));
        return d;
    }

    /// <summary>A large descriptor: tag, 16-bit length of what follows, then <paramref name="length"/> zero bytes.</summary>
    private static byte[] Large(byte tag, ushort length)
    {
        var d = new byte[3 + length];
        d[0] = tag;
        BinaryPrimitives.WriteUInt16LittleEndian(d.AsSpan(1), length);
        return d;
    }
}
