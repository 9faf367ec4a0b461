using System.Buffers.Binary;
using System.Globalization;
using System.Security.Cryptography;

namespace ActorVmm.Devices.Net;

/// <summary>A 48-bit Ethernet address, written <c>52:54:00:12:34:56</c>.</summary>
public readonly record struct MacAddress
{
    private readonly ulong _value;

    public MacAddress(ReadOnlySpan<byte> bytes)
    {
        if (bytes.Length != 6)
        {
            throw new ArgumentException("a MAC address has 6 bytes", nameof(bytes));
        }

        Span<byte> wide = stackalloc byte[8];
        wide.Clear();
        bytes.CopyTo(wide[2..]);
        _value = BinaryPrimitives.ReadUInt64BigEndian(wide);
    }

    public static readonly MacAddress Broadcast = new([0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF]);

    /// <summary>Group bit (bit 0 of the first octet): broadcast and multicast.</summary>
    public bool IsMulticast => ((_value >> 40) & 1) != 0;

    /// <summary>Locally administered bit (bit 1 of the first octet).</summary>
    public bool IsLocallyAdministered => ((_value >> 40) & 2) != 0;

    public bool IsZero => _value == 0;

    /// <summary>Writes the 6 bytes to <paramref name="destination"/>.</summary>
    public void CopyTo(Span<byte> destination)
    {
        Span<byte> wide = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64BigEndian(wide, _value);
        wide[2..].CopyTo(destination[..6]);
    }

    public byte[] ToArray()
    {
        var bytes = new byte[6];
        CopyTo(bytes);
        return bytes;
    }

    /// <summary>A random unicast, locally administered address (first octet 0x?2, 0x?6, 0x?A or 0x?E).</summary>
    public static MacAddress Generate()
    {
        Span<byte> bytes = stackalloc byte[6];
        RandomNumberGenerator.Fill(bytes);
        bytes[0] = (byte)((bytes[0] & 0xFC) | 0x02);
        return new MacAddress(bytes);
    }

    /// <summary>Parses six hex octets separated by ':' or '-'; false with a one-line reason when malformed.</summary>
    public static bool TryParse(string? text, out MacAddress mac, out string error)
    {
        mac = default;
        error = string.Empty;
        var parts = (text ?? string.Empty).Split(':', '-');
        Span<byte> bytes = stackalloc byte[6];
        if (parts.Length != 6)
        {
            error = $"'{text}' is not a MAC address (six hex octets, e.g. 52:54:00:12:34:56)";
            return false;
        }

        for (var i = 0; i < 6; i++)
        {
            if (parts[i].Length is < 1 or > 2 || !byte.TryParse(parts[i], NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out bytes[i]))
            {
                error = $"'{text}' is not a MAC address (six hex octets, e.g. 52:54:00:12:34:56)";
                return false;
            }
        }

        mac = new MacAddress(bytes);
        return true;
    }

    public override string ToString()
    {
        Span<byte> b = stackalloc byte[6];
        CopyTo(b);
        return string.Create(CultureInfo.InvariantCulture, $"{b[0]:x2}:{b[1]:x2}:{b[2]:x2}:{b[3]:x2}:{b[4]:x2}:{b[5]:x2}");
    }
}
