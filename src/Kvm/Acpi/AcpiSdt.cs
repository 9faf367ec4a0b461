using System.Buffers.Binary;
using System.Text;

namespace ActorVmm.Kvm.Acpi;

/// <summary>The 36-byte system description table header every ACPI table but the RSDP and FACS starts with, and checksums.</summary>
internal static class AcpiSdt
{
    public const int HeaderSize = 36;
    public const int ChecksumOffset = 9;
    public const string OemId = "ACTVMM";
    public const string OemTableId = "ACTORVMM";
    public const string CreatorId = "AVMM";

    /// <summary>A table of <paramref name="length"/> bytes with its header filled, checksum 0 (call <see cref="Seal"/> when done).</summary>
    public static byte[] Create(string signature, int length, byte revision)
    {
        var table = new byte[length];
        Encoding.ASCII.GetBytes(signature, table);
        BinaryPrimitives.WriteUInt32LittleEndian(table.AsSpan(4), (uint)length);
        table[8] = revision;
        Encoding.ASCII.GetBytes(OemId, table.AsSpan(10));
        Encoding.ASCII.GetBytes(OemTableId, table.AsSpan(16));
        BinaryPrimitives.WriteUInt32LittleEndian(table.AsSpan(24), 1); // OEM revision
        Encoding.ASCII.GetBytes(CreatorId, table.AsSpan(28));
        BinaryPrimitives.WriteUInt32LittleEndian(table.AsSpan(32), 1); // creator revision
        return table;
    }

    /// <summary>Sets the header checksum so that the whole table sums to 0; returns the table.</summary>
    public static byte[] Seal(byte[] table)
    {
        table[ChecksumOffset] = 0;
        table[ChecksumOffset] = Checksum(table);
        return table;
    }

    /// <summary>The byte that, added to <paramref name="bytes"/>, makes them sum to 0 mod 256.</summary>
    public static byte Checksum(ReadOnlySpan<byte> bytes)
    {
        byte sum = 0;
        foreach (var b in bytes)
        {
            sum += b;
        }

        return (byte)-sum;
    }
}
