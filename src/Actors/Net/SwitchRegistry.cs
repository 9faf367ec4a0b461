using ActorVmm.Devices.Net;
using Akka.Actor;

namespace ActorVmm.Actors.Net;

/// <summary>
/// The process's in-process switches, by name, as actors under <paramref name="system"/>: a switch is created when
/// its first port attaches and stopped when its last port detaches (a NIC's link disposed, or the uplink). Each port
/// is a mailbox: its frames enter the switch as <see cref="SwitchProtocol.FrameIn"/> messages (bounded per port by
/// <see cref="SwitchOptions.MaxInFlightFrames"/>) and leave through the destination port's delivery callback.
/// Thread-safe.
/// </summary>
public sealed class SwitchRegistry(ActorSystem system, SwitchOptions? options = null, TimeProvider? time = null)
{
    private readonly Lock _sync = new();
    private readonly SwitchOptions _options = options ?? SwitchOptions.Default;
    private readonly Dictionary<string, Entry> _switches = new(StringComparer.Ordinal);
    private int _generation;

    /// <summary>Whether <paramref name="name"/> can name a switch: 1 to 32 letters, digits, '-' or '_'.</summary>
    public static bool IsSwitchName(string? name) =>
        name is { Length: > 0 and <= 32 } && name.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_');

    /// <summary>
    /// A link for a NIC with address <paramref name="mac"/>: a new port of switch <paramref name="switchName"/> (created
    /// now if it has no port yet). Dispose the link to detach the port.
    /// </summary>
    /// <param name="portName">Who the NIC is, for messages and logs (<c>vm-a/net0</c>).</param>
    /// <exception cref="NetLinkException">A bad switch name, a multicast or zero MAC, or a MAC already on the switch (one line).</exception>
    public INetLink Attach(string switchName, string portName, MacAddress mac)
    {
        CheckName(switchName);
        if (mac.IsMulticast || mac.IsZero)
        {
            throw new NetLinkException($"mac {mac} of {portName} is not a unicast address");
        }

        lock (_sync)
        {
            var entry = Open(switchName);
            if (entry.Macs.TryGetValue(mac, out var holder))
            {
                Close(entry);
                throw new NetLinkException($"mac {mac} is already on switch {switchName} ({holder})");
            }

            var link = new SwitchLink(++entry.LastPortId, portName, switchName, entry.Actor, _options, Detach);
            entry.Macs.Add(mac, portName);
            entry.Ports.Add(link.Id, (link, mac));
            entry.Actor.Tell(new SwitchProtocol.AddPort(link.Id, link, mac));
            return link;
        }
    }

    /// <summary>
    /// Connects switch <paramref name="switchName"/> to the host network through <paramref name="uplink"/> (e.g. a TAP
    /// link), which the switch now owns and starts. One uplink per switch; it counts as a port. Dispose the result to
    /// detach it (the link is disposed too).
    /// </summary>
    /// <exception cref="NetLinkException">A bad switch name, or the switch has an uplink already (one line).</exception>
    public IDisposable AttachUplink(string switchName, INetLink uplink)
    {
        ArgumentNullException.ThrowIfNull(uplink);
        CheckName(switchName);
        lock (_sync)
        {
            var entry = Open(switchName);
            if (entry.Uplink is { } existing)
            {
                Close(entry);
                throw new NetLinkException($"switch {switchName} already has an uplink ({existing.Name})");
            }

            var port = new UplinkPort(++entry.LastPortId, uplink, entry.Actor, _options, DetachUplink);
            entry.Uplink = port;
            entry.Actor.Tell(new SwitchProtocol.AddPort(port.Id, port));
            port.Start();
            return port;
        }
    }

    /// <summary>Every switch's figures now, by name.</summary>
    public IReadOnlyList<SwitchStats> Stats()
    {
        lock (_sync)
        {
            return _switches.Values.OrderBy(e => e.Name, StringComparer.Ordinal).Select(e => SwitchStats.Of(e.Name, e.Counters)).ToList();
        }
    }

    /// <summary>One switch's figures now; null when no switch of that name exists.</summary>
    public SwitchStats? Stats(string switchName)
    {
        lock (_sync)
        {
            return _switches.TryGetValue(switchName, out var entry) ? SwitchStats.Of(entry.Name, entry.Counters) : null;
        }
    }

    /// <summary>The actor of a running switch (tests watch it stop).</summary>
    internal IActorRef? ActorOf(string switchName)
    {
        lock (_sync)
        {
            return _switches.TryGetValue(switchName, out var entry) ? entry.Actor : null;
        }
    }

    private static void CheckName(string switchName)
    {
        if (!IsSwitchName(switchName))
        {
            throw new NetLinkException($"'{switchName}' is not a switch name (1 to 32 letters, digits, '-' or '_', e.g. lan0)");
        }
    }

    /// <summary>Under the lock: the switch of that name, started now when it has none.</summary>
    private Entry Open(string name)
    {
        if (!_switches.TryGetValue(name, out var entry))
        {
            var counters = new SwitchCounters();
            var actor = system.ActorOf(SwitchActor.Props(name, counters, _options, time), $"switch-{name}-{++_generation}");
            _switches[name] = entry = new Entry(name, actor, counters);
        }

        return entry;
    }

    /// <summary>Under the lock: stops the switch once it has no port left.</summary>
    private void Close(Entry entry)
    {
        if (entry.Ports.Count > 0 || entry.Uplink is not null)
        {
            return;
        }

        _switches.Remove(entry.Name);
        entry.Actor.Tell(PoisonPill.Instance);
    }

    private void Detach(SwitchLink link)
    {
        lock (_sync)
        {
            var entry = _switches.Values.FirstOrDefault(e => e.Ports.TryGetValue(link.Id, out var p) && ReferenceEquals(p.Link, link));
            if (entry is null)
            {
                return;
            }

            entry.Macs.Remove(entry.Ports[link.Id].Mac);
            entry.Ports.Remove(link.Id);
            entry.Actor.Tell(new SwitchProtocol.RemovePort(link.Id));
            Close(entry);
        }
    }

    private void DetachUplink(UplinkPort port)
    {
        lock (_sync)
        {
            var entry = _switches.Values.FirstOrDefault(e => ReferenceEquals(e.Uplink, port));
            if (entry is null)
            {
                return;
            }

            entry.Uplink = null;
            entry.Actor.Tell(new SwitchProtocol.RemovePort(port.Id));
            Close(entry);
        }
    }

    private sealed class Entry(string name, IActorRef actor, SwitchCounters counters)
    {
        public string Name { get; } = name;

        public IActorRef Actor { get; } = actor;

        public SwitchCounters Counters { get; } = counters;

        public Dictionary<int, (SwitchLink Link, MacAddress Mac)> Ports { get; } = [];

        public Dictionary<MacAddress, string> Macs { get; } = [];

        public UplinkPort? Uplink { get; set; }

        public int LastPortId { get; set; }
    }
}
