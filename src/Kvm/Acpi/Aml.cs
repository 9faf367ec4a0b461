using System.Buffers.Binary;
using System.Text;

namespace ActorVmm.Kvm.Acpi;

/// <summary>
/// Encodes the few ACPI Machine Language terms a static DSDT needs (ACPI 6.5, section 20.2): names, integers,
/// strings, buffers, packages, scopes, devices and methods that return a constant. Each method returns the
/// complete encoding of one term as bytes; terms nest by passing their bytes as the body of another.
/// </summary>
public static class Aml
{
    public const byte ZeroOp = 0x00;
    public const byte OneOp = 0x01;
    public const byte NameOp = 0x08;
    public const byte BytePrefix = 0x0A;
    public const byte WordPrefix = 0x0B;
    public const byte DWordPrefix = 0x0C;
    public const byte StringPrefix = 0x0D;
    public const byte QWordPrefix = 0x0E;
    public const byte ScopeOp = 0x10;
    public const byte BufferOp = 0x11;
    public const byte PackageOp = 0x12;
    public const byte MethodOp = 0x14;
    public const byte DualNamePrefix = 0x2E;
    public const byte MultiNamePrefix = 0x2F;
    public const byte ExtOpPrefix = 0x5B;
    public const byte DeviceOp = 0x82;
    public const byte RootChar = 0x5C;
    public const byte ParentPrefixChar = 0x5E;
    public const byte ReturnOp = 0xA4;
    public const byte OnesOp = 0xFF;

    /// <summary>The largest value a PkgLength can encode (28 bits), the length bytes included.</summary>
    public const int MaxPackageLength = 0x0FFF_FFFF;

    /// <summary>
    /// PkgLength for a body of <paramref name="bodyLength"/> bytes: the encoded length counts itself, so it takes
    /// 1 byte up to 63 in all, then 2, 3 or 4 bytes (lead byte: count of following bytes in bits 7-6, low nibble
    /// in bits 3-0; the following bytes carry the rest, least significant first).
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">The body does not fit a 28-bit PkgLength.</exception>
    public static byte[] PackageLength(int bodyLength)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(bodyLength);
        if (bodyLength + 1 <= 0x3F)
        {
            return [(byte)(bodyLength + 1)];
        }

        for (var extra = 1; extra <= 3; extra++)
        {
            var total = bodyLength + 1 + extra;
            if (total < 1 << (4 + (8 * extra)))
            {
                var bytes = new byte[1 + extra];
                bytes[0] = (byte)((extra << 6) | (total & 0x0F));
                for (var i = 1; i <= extra; i++)
                {
                    bytes[i] = (byte)(total >> (4 + (8 * (i - 1))));
                }

                return bytes;
            }
        }

        throw new ArgumentOutOfRangeException(nameof(bodyLength), bodyLength, "AML package longer than a PkgLength can encode (256 MiB)");
    }

    /// <summary>
    /// A NameString: an optional root (<c>\</c>) or parent prefixes (<c>^</c>), then dot-separated segments of at most
    /// four characters (A-Z, 0-9, _; not starting with a digit), padded with '_'. <c>"\"</c> alone is the root.
    /// </summary>
    /// <exception cref="ArgumentException">A segment is empty, too long or has a character AML does not allow.</exception>
    public static byte[] NameString(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        var bytes = new List<byte>();
        var at = 0;
        if (name.StartsWith('\\'))
        {
            bytes.Add(RootChar);
            at = 1;
        }
        else
        {
            while (at < name.Length && name[at] == '^')
            {
                bytes.Add(ParentPrefixChar);
                at++;
            }
        }

        var rest = name[at..];
        var segments = rest.Length == 0 ? [] : rest.Split('.');
        switch (segments.Length)
        {
            case 0:
                bytes.Add(ZeroOp); // NullName
                break;
            case 1:
                break;
            case 2:
                bytes.Add(DualNamePrefix);
                break;
            case <= 255:
                bytes.Add(MultiNamePrefix);
                bytes.Add((byte)segments.Length);
                break;
            default:
                throw new ArgumentException($"AML name '{name}' has more than 255 segments", nameof(name));
        }

        foreach (var segment in segments)
        {
            bytes.AddRange(NameSeg(segment, name));
        }

        return [.. bytes];
    }

    /// <summary>
    /// The shortest encoding of an integer: Zero, One, Ones (all 64 bits set), or a byte, word, dword or qword
    /// constant.
    /// </summary>
    public static byte[] Integer(ulong value)
    {
        switch (value)
        {
            case 0:
                return [ZeroOp];
            case 1:
                return [OneOp];
            case ulong.MaxValue:
                return [OnesOp];
            case <= byte.MaxValue:
                return [BytePrefix, (byte)value];
            case <= ushort.MaxValue:
                var word = new byte[3];
                word[0] = WordPrefix;
                BinaryPrimitives.WriteUInt16LittleEndian(word.AsSpan(1), (ushort)value);
                return word;
            case <= uint.MaxValue:
                var dword = new byte[5];
                dword[0] = DWordPrefix;
                BinaryPrimitives.WriteUInt32LittleEndian(dword.AsSpan(1), (uint)value);
                return dword;
            default:
                var qword = new byte[9];
                qword[0] = QWordPrefix;
                BinaryPrimitives.WriteUInt64LittleEndian(qword.AsSpan(1), value);
                return qword;
        }
    }

    /// <summary>A String constant: printable ASCII, NUL-terminated.</summary>
    /// <exception cref="ArgumentException">A character outside 0x01-0x7F.</exception>
    public static byte[] String(string value)
    {
        ArgumentNullException.ThrowIfNull(value);
        if (value.Any(c => c is < (char)1 or > (char)0x7F))
        {
            throw new ArgumentException($"AML string '{value}' must be ASCII without NUL", nameof(value));
        }

        return [StringPrefix, .. Encoding.ASCII.GetBytes(value), 0];
    }

    /// <summary>
    /// A compressed EISA id ("PNP0A03" -> 0x030AD041) as a DWord constant: three letters of 5 bits each and four hex
    /// digits, stored big-endian.
    /// </summary>
    /// <exception cref="ArgumentException">Not three capital letters and four hex digits.</exception>
    public static byte[] EisaId(string id) => Integer(EisaIdValue(id));

    /// <summary>The 32-bit value of a compressed EISA id (see <see cref="EisaId"/>).</summary>
    public static uint EisaIdValue(string id)
    {
        ArgumentNullException.ThrowIfNull(id);
        if (id.Length != 7 || !id[..3].All(c => c is >= 'A' and <= 'Z') || !id[3..].All(Uri.IsHexDigit))
        {
            throw new ArgumentException($"EISA id '{id}' must be three capital letters and four hex digits", nameof(id));
        }

        var vendor = ((id[0] - 0x40) << 10) | ((id[1] - 0x40) << 5) | (id[2] - 0x40);
        var product = Convert.ToUInt16(id[3..], 16);
        Span<byte> bytes = [(byte)(vendor >> 8), (byte)vendor, (byte)(product >> 8), (byte)product];
        return BinaryPrimitives.ReadUInt32LittleEndian(bytes);
    }

    /// <summary>Name(name, value): <paramref name="value"/> is an encoded data object (integer, string, buffer, package).</summary>
    public static byte[] Name(string name, byte[] value) => [NameOp, .. NameString(name), .. value];

    /// <summary>Scope(name) { terms }.</summary>
    public static byte[] Scope(string name, params byte[][] terms) => WithLength([ScopeOp], [.. NameString(name), .. Concat(terms)]);

    /// <summary>Device(name) { terms }.</summary>
    public static byte[] Device(string name, params byte[][] terms) =>
        WithLength([ExtOpPrefix, DeviceOp], [.. NameString(name), .. Concat(terms)]);

    /// <summary>Method(name, 0, NotSerialized) { Return (value) }: a method without arguments returning a constant.</summary>
    public static byte[] MethodReturning(string name, byte[] value) =>
        WithLength([MethodOp], [.. NameString(name), 0x00, ReturnOp, .. value]);

    /// <summary>Package() { elements }: each element an encoded data object.</summary>
    /// <exception cref="ArgumentException">More than 255 elements.</exception>
    public static byte[] Package(params byte[][] elements)
    {
        if (elements.Length > byte.MaxValue)
        {
            throw new ArgumentException($"AML package of {elements.Length} elements; at most 255", nameof(elements));
        }

        return WithLength([PackageOp], [(byte)elements.Length, .. Concat(elements)]);
    }

    /// <summary>Buffer() { bytes }: its size is the number of bytes given.</summary>
    public static byte[] Buffer(ReadOnlySpan<byte> bytes) => WithLength([BufferOp], [.. Integer((ulong)bytes.Length), .. bytes]);

    /// <summary>The concatenation of encoded terms.</summary>
    public static byte[] Concat(params byte[][] terms)
    {
        var all = new byte[terms.Sum(t => t.Length)];
        var at = 0;
        foreach (var t in terms)
        {
            t.CopyTo(all, at);
            at += t.Length;
        }

        return all;
    }

    private static byte[] WithLength(byte[] opcode, byte[] body) => [.. opcode, .. PackageLength(body.Length), .. body];

    private static byte[] NameSeg(string segment, string name)
    {
        if (segment.Length is 0 or > 4
            || segment[0] is >= '0' and <= '9'
            || !segment.All(c => c is (>= 'A' and <= 'Z') or (>= '0' and <= '9') or '_'))
        {
            throw new ArgumentException(
                $"AML name '{name}': segment '{segment}' must be 1-4 of A-Z, 0-9, _ and not start with a digit", nameof(name));
        }

        return Encoding.ASCII.GetBytes(segment.PadRight(4, '_'));
    }
}
