using Akka.Configuration.Hocon;
using ActorVmm.Actors.Net;
using ActorVmm.Actors.Settings;
using ActorVmm.Devices.Net;

namespace ActorVmm.Host.Settings;

/// <summary>What a virtio-net NIC is connected to.</summary>
public enum NetBackendKind
{
    /// <summary>An existing TAP device on the host (<c>tap=NAME</c>).</summary>
    Tap,

    /// <summary>A port of the process's in-process switch of that name (<c>switch=NAME</c>): VMs on one switch share an L2 segment.</summary>
    Switch,
}

/// <summary>
/// One virtio-net NIC (net0, net1, ...): <c>--net tap=NAME[,mac=M][,mtu=N][,pcap=FILE]</c> or
/// <c>--net switch=NAME[,...]</c>, or in HOCON <c>{ tap = NAME, mac = "52:54:00:12:34:56", mtu = 1500, pcap = FILE }</c>.
/// </summary>
/// <param name="Kind">TAP or switch.</param>
/// <param name="Name">The TAP's interface name, or the switch's name.</param>
/// <param name="Mac">The guest's MAC; null: a random locally administered one.</param>
/// <param name="Mtu">The MTU the device announces (VIRTIO_NET_F_MTU).</param>
/// <param name="Pcap">Capture every frame of this NIC, both ways, to this pcap file; null: none.</param>
public sealed record NetSettings(NetBackendKind Kind, string Name, MacAddress? Mac = null, int Mtu = NetSettings.DefaultMtu, string? Pcap = null)
{
    public const int DefaultMtu = 1500;
    public const int MinMtu = 68;
    public const int MaxMtu = 65535;

    /// <summary>Longest TAP interface name Linux takes (IFNAMSIZ - 1).</summary>
    public const int MaxTapName = 15;

    private const string Usage = "must be tap=NAME or switch=NAME, then optional ,mac=M ,mtu=N ,pcap=FILE ,transport=mmio|pci";

    /// <summary>The NIC's own transport; null: the VM's (<see cref="VmSettings.Transport"/>).</summary>
    public VirtioTransportKind? Transport { get; init; }

    /// <summary>Parses the <c>--net</c> form; null with a one-line error when malformed.</summary>
    public static NetSettings? TryParse(string spec, out string? error)
    {
        var fields = new List<(string Key, string Value)>();
        foreach (var part in spec.Split(','))
        {
            var eq = part.IndexOf('=');
            if (eq <= 0)
            {
                error = $"{Usage}: '{spec}'";
                return null;
            }

            fields.Add((part[..eq].Trim(), part[(eq + 1)..].Trim()));
        }

        return TryCreate(fields, spec, out error);
    }

    /// <summary>The <c>--net</c> form of these settings.</summary>
    public override string ToString()
    {
        var text = $"{(Kind == NetBackendKind.Tap ? "tap" : "switch")}={Name}";
        if (Mac is { } mac)
        {
            text += $",mac={mac}";
        }

        if (Mtu != DefaultMtu)
        {
            text += $",mtu={Mtu}";
        }

        if (Transport is { } transport)
        {
            text += $",transport={transport.ToString().ToLowerInvariant()}";
        }

        return Pcap is null ? text : text + $",pcap={Pcap}";
    }

    /// <summary>Reads the NIC list at <paramref name="path"/>: entries <c>"tap=NAME,..."</c> or objects.</summary>
    internal static IReadOnlyList<NetSettings> ListFromConfig(HoconReader reader, string path)
    {
        var nets = reader.List(path, (index, item) => FromEntry(reader, path, index, item));
        var macs = new Dictionary<MacAddress, int>();
        var pcaps = new Dictionary<string, int>(StringComparer.Ordinal);
        for (var i = 0; i < nets.Count; i++)
        {
            if (nets[i].Mac is { } mac && !macs.TryAdd(mac, i))
            {
                throw reader.Fail(path, $"entry {i}: mac {mac} is also net{macs[mac]}'s", $"{path}[{i}]");
            }

            if (nets[i].Pcap is { } pcap && !pcaps.TryAdd(System.IO.Path.GetFullPath(pcap), i))
            {
                throw reader.Fail(path, $"entry {i}: pcap {pcap} is also net{pcaps[System.IO.Path.GetFullPath(pcap)]}'s", $"{path}[{i}]");
            }
        }

        return nets;
    }

    private static NetSettings FromEntry(HoconReader reader, string path, int index, HoconValue item)
    {
        var where = $"{path}[{index}]";
        if (item.IsArray())
        {
            throw reader.Fail(path, $"entry {index} must be {{ tap = NAME }}, {{ switch = NAME }} or \"tap=NAME[,mac=M]\"", where);
        }

        NetSettings? net;
        string? error;
        if (!item.IsObject())
        {
            var text = item.GetString() ?? string.Empty;
            net = TryParse(text, out error);
        }
        else
        {
            var fields = new List<(string Key, string Value)>();
            foreach (var (key, field) in item.GetObject().Items)
            {
                if (field.IsObject() || field.IsArray())
                {
                    throw reader.Fail(path, $"entry {index}: {key} must be a string: {HoconReader.Show(field)}", where);
                }

                fields.Add((key, field.GetString() ?? string.Empty));
            }

            net = TryCreate(fields, HoconReader.Show(item), out error);
        }

        return net ?? throw reader.Fail(path, $"entry {index}: {error}", where);
    }

    private static NetSettings? TryCreate(IReadOnlyList<(string Key, string Value)> fields, string shown, out string? error)
    {
        error = null;
        NetBackendKind? kind = null;
        string? name = null;
        MacAddress? mac = null;
        var mtu = DefaultMtu;
        string? pcap = null;
        VirtioTransportKind? transport = null;
        foreach (var (key, value) in fields)
        {
            switch (key)
            {
                case "tap" or "switch":
                    if (kind is not null)
                    {
                        error = $"give one of tap= and switch=: '{shown}'";
                        return null;
                    }

                    kind = key == "tap" ? NetBackendKind.Tap : NetBackendKind.Switch;
                    name = value;
                    break;
                case "mac":
                    if (!MacAddress.TryParse(value, out var parsed, out var macError))
                    {
                        error = macError;
                        return null;
                    }

                    if (parsed.IsMulticast || parsed.IsZero)
                    {
                        error = $"mac {parsed} is not a unicast address (the first octet's lowest bit must be 0, e.g. 52:54:00:12:34:56)";
                        return null;
                    }

                    mac = parsed;
                    break;
                case "mtu":
                    if (!int.TryParse(value, out mtu) || mtu is < MinMtu or > MaxMtu)
                    {
                        error = $"mtu must be {MinMtu}..{MaxMtu}: '{value}'";
                        return null;
                    }

                    break;
                case "pcap":
                    if (value.Length == 0)
                    {
                        error = "pcap must name a file";
                        return null;
                    }

                    pcap = value;
                    break;
                case "transport":
                    if (!ValueParsers.TryParseEnum<VirtioTransportKind>(value, out var kindOfTransport))
                    {
                        error = $"transport must be {ValueParsers.Choices<VirtioTransportKind>()}: '{value}'";
                        return null;
                    }

                    transport = kindOfTransport;
                    break;
                default:
                    error = $"unknown key '{key}' (a NIC has tap or switch, mac, mtu, pcap and transport)";
                    return null;
            }
        }

        if (kind is null || name is null)
        {
            error = $"{Usage}: '{shown}'";
            return null;
        }

        if (!IsValidName(kind.Value, name, out error))
        {
            return null;
        }

        return new NetSettings(kind.Value, name, mac, mtu, pcap) { Transport = transport };
    }

    private static bool IsValidName(NetBackendKind kind, string name, out string? error)
    {
        error = null;
        var what = kind == NetBackendKind.Tap ? "tap" : "switch";
        if (name.Length == 0)
        {
            error = $"{what} needs a name";
            return false;
        }

        if (kind == NetBackendKind.Tap && name.Length > MaxTapName)
        {
            error = $"tap name '{name}' is longer than {MaxTapName} characters";
            return false;
        }

        if (kind == NetBackendKind.Switch && !SwitchRegistry.IsSwitchName(name))
        {
            error = $"switch name '{name}' must be 1 to 32 letters, digits, '-' or '_'";
            return false;
        }

        if (!name.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.'))
        {
            error = $"{what} name '{name}' may hold only letters, digits, '-', '_' and '.'";
            return false;
        }

        return true;
    }
}
