using System.Globalization;
using System.Numerics;

namespace ActorVmm.Kvm.X86;

/// <summary>
/// The guest's CPU topology: <paramref name="Sockets"/> packages of <paramref name="Dies"/> dies, each die with
/// <paramref name="Cores"/> cores of <paramref name="Threads"/> threads. vCPU index i is thread i % Threads of core
/// (i / Threads) % Cores of die ..., socket-major, as QEMU numbers them.
/// <para>
/// APIC ids pack the fields x2APIC-style, as Linux and QEMU read them back from CPUID leaf 0xB/0x1F: thread bits
/// lowest, then core, die and socket bits, each field ceil(log2(count)) bits wide. With a count that is not a power
/// of two the ids have gaps (3 cores take 2 bits: ids 0, 1, 2, then 4). The ids must fit the 8-bit xAPIC id below
/// the broadcast id 255.
/// </para>
/// </summary>
public sealed record CpuTopology(int Sockets, int Dies, int Cores, int Threads)
{
    /// <summary>The most vCPUs a topology may have: xAPIC ids 0..254 (255 is the broadcast id).</summary>
    public const int MaxCount = 254;

    /// <summary>The most dies a package may have (AMD's CPUID 0x8000001E counts them in 3 bits).</summary>
    public const int MaxDies = 8;

    /// <summary>The largest APIC id a vCPU may have.</summary>
    public const int MaxAllowedApicId = 254;

    /// <summary>Number of vCPUs.</summary>
    public int Count => Sockets * Dies * Cores * Threads;

    /// <summary>Logical processors (threads) in one package.</summary>
    public int LogicalPerPackage => Dies * Cores * Threads;

    /// <summary>Logical processors in one die.</summary>
    public int LogicalPerDie => Cores * Threads;

    /// <summary>Cores in one package.</summary>
    public int CoresPerPackage => Dies * Cores;

    /// <summary>APIC id bits of the thread field.</summary>
    public int ThreadBits => FieldBits(Threads);

    /// <summary>APIC id bits of the core field.</summary>
    public int CoreBits => FieldBits(Cores);

    /// <summary>APIC id bits of the die field.</summary>
    public int DieBits => FieldBits(Dies);

    /// <summary>Where the core field starts in an APIC id (the SMT level's shift in CPUID 0xB).</summary>
    public int CoreOffset => ThreadBits;

    /// <summary>Where the die field starts (the core level's shift).</summary>
    public int DieOffset => ThreadBits + CoreBits;

    /// <summary>Where the socket field starts (the package shift: CPUID 0x80000008 ApicIdSize).</summary>
    public int PackageOffset => ThreadBits + CoreBits + DieBits;

    /// <summary>The largest APIC id of the topology (that of the last vCPU).</summary>
    public int MaxApicId => ApicId(Count - 1);

    /// <summary>Today's shape: one socket of <paramref name="count"/> single-threaded cores (APIC id = index).</summary>
    public static CpuTopology Flat(int count) => new(1, 1, count, 1);

    /// <summary>Thread index of vCPU <paramref name="index"/> in its core.</summary>
    public int ThreadId(int index) => Check(index) % Threads;

    /// <summary>Core index of vCPU <paramref name="index"/> in its die.</summary>
    public int CoreId(int index) => Check(index) / Threads % Cores;

    /// <summary>Die index of vCPU <paramref name="index"/> in its package.</summary>
    public int DieId(int index) => Check(index) / (Threads * Cores) % Dies;

    /// <summary>Package (socket) of vCPU <paramref name="index"/>.</summary>
    public int SocketId(int index) => Check(index) / LogicalPerPackage;

    /// <summary>The APIC id (KVM vCPU id) of vCPU <paramref name="index"/>, 0 .. <see cref="Count"/> - 1.</summary>
    public int ApicId(int index) =>
        ThreadId(index)
        | (CoreId(index) << CoreOffset)
        | (DieId(index) << DieOffset)
        | (SocketId(index) << PackageOffset);

    /// <summary>The APIC ids of all vCPUs, by index.</summary>
    public IReadOnlyList<int> ApicIds() => [.. Enumerable.Range(0, Count).Select(ApicId)];

    /// <summary>Whether the topology is usable; otherwise <paramref name="error"/> says why in one line.</summary>
    public bool IsValid(out string error)
    {
        foreach (var (name, value) in Fields())
        {
            if (value < 1 || value > MaxCount)
            {
                error = $"{name} must be 1..{MaxCount}, not {value}";
                return false;
            }
        }

        if (Dies > MaxDies)
        {
            // CPUID 0x8000001E ECX[10:8] holds the node (die) count of a package in 3 bits.
            error = $"dies must be 1..{MaxDies}, not {Dies}";
            return false;
        }

        if ((long)Sockets * Dies * Cores * Threads > MaxCount)
        {
            error = $"{Describe()} is {(long)Sockets * Dies * Cores * Threads} vCPUs: at most {MaxCount} fit the 8-bit xAPIC id";
            return false;
        }

        if (MaxApicId > MaxAllowedApicId)
        {
            error = $"{Describe()} needs APIC ids up to {MaxApicId} (each field takes a power of two of ids): at most {MaxAllowedApicId} fit the xAPIC (255 is broadcast)";
            return false;
        }

        error = string.Empty;
        return true;
    }

    /// <summary>
    /// Parses <c>sockets=S,dies=D,cores=C,threads=T</c> (any order, any subset; empty = <see cref="Flat"/>) for
    /// <paramref name="count"/> vCPUs: threads, dies and sockets default to 1, cores to whatever makes the product
    /// <paramref name="count"/>. Returns null with a one-line <paramref name="error"/> when the text is malformed, the
    /// product is not <paramref name="count"/> or the topology is not <see cref="IsValid"/>.
    /// </summary>
    public static CpuTopology? TryParse(string? text, int count, out string error)
    {
        if (count is < 1 or > MaxCount)
        {
            error = $"{count} vCPUs: must be 1..{MaxCount}";
            return null;
        }

        int? sockets = null, dies = null, cores = null, threads = null;
        foreach (var part in (text ?? string.Empty).Split(',', StringSplitOptions.TrimEntries))
        {
            if (part.Length == 0)
            {
                if (!string.IsNullOrWhiteSpace(text))
                {
                    error = "empty field (expected sockets=S,dies=D,cores=C,threads=T)";
                    return null;
                }

                continue;
            }

            var eq = part.IndexOf('=', StringComparison.Ordinal);
            var key = eq < 0 ? part : part[..eq].Trim();
            var valueText = eq < 0 ? string.Empty : part[(eq + 1)..].Trim();
            if (!int.TryParse(valueText, NumberStyles.None, CultureInfo.InvariantCulture, out var value) || value < 1 || value > MaxCount)
            {
                error = eq < 0
                    ? $"'{part}' is not field=number (fields: sockets, dies, cores, threads)"
                    : $"{key} must be a whole number 1..{MaxCount}, not '{valueText}'";
                return null;
            }

            ref var slot = ref sockets;
            switch (key.ToLowerInvariant())
            {
                case "sockets":
                    break;
                case "dies":
                    slot = ref dies;
                    break;
                case "cores":
                    slot = ref cores;
                    break;
                case "threads":
                    slot = ref threads;
                    break;
                default:
                    error = $"unknown field '{key}' (fields: sockets, dies, cores, threads)";
                    return null;
            }

            if (slot is not null)
            {
                error = $"{key} given twice";
                return null;
            }

            slot = value;
        }

        var s = sockets ?? 1;
        var d = dies ?? 1;
        var t = threads ?? 1;
        int c;
        if (cores is { } given)
        {
            c = given;
        }
        else
        {
            var rest = (long)s * d * t;
            if (rest > count || count % rest != 0)
            {
                error = $"sockets={s},dies={d},threads={t} do not divide {count} vCPUs";
                return null;
            }

            c = (int)(count / rest);
        }

        var topology = new CpuTopology(s, d, c, t);
        var product = (long)s * d * c * t;
        if (product != count)
        {
            error = $"{topology.Describe()} is {product} vCPUs, not {count}";
            return null;
        }

        return topology.IsValid(out error) ? topology : null;
    }

    /// <summary>Parses like <see cref="TryParse"/>, throwing <see cref="FormatException"/> with its message.</summary>
    public static CpuTopology Parse(string? text, int count) =>
        TryParse(text, count, out var error) ?? throw new FormatException(error);

    /// <summary><c>sockets=S,dies=D,cores=C,threads=T</c>, which <see cref="Parse"/> reads back.</summary>
    public string Describe() => $"sockets={Sockets},dies={Dies},cores={Cores},threads={Threads}";

    public override string ToString() => Describe();

    /// <summary>ceil(log2(count)), as QEMU's apicid_bitwidth_for_count and Linux's get_count_order compute it.</summary>
    private static int FieldBits(int count) =>
        count <= 1 ? 0 : BitOperations.Log2(BitOperations.RoundUpToPowerOf2((uint)count));

    private (string Name, int Value)[] Fields() =>
        [("sockets", Sockets), ("dies", Dies), ("cores", Cores), ("threads", Threads)];

    private int Check(int index)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(index);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(index, Count);
        return index;
    }
}
