using ActorVmm.Devices.Net;
using Akka.Actor;
using Akka.Event;

namespace ActorVmm.Actors.Net;

/// <summary>
/// A learning L2 switch: each frame's source MAC is learned on the port it came from; a unicast frame goes to the
/// port its destination was learned on, a broadcast, multicast or unknown (or aged) destination floods to every other
/// port, and no frame goes back out of the port it came in on. Learned MACs age out after
/// <see cref="SwitchOptions.MacAgeing"/> (looked up lazily, swept periodically); the table holds at most
/// <see cref="SwitchOptions.MaxMacs"/>. Frames leave by the destination port's <see cref="SwitchPort.Deliver"/>,
/// which queues into a bounded queue and never blocks; a flooded frame gets a copy per port. A NIC's port learns
/// only the NIC's own MAC: a frame from it with another source is dropped and counted, so a guest can neither take
/// another VM's traffic by spoofing its MAC nor fill the table with made-up ones (an uplink port learns any).
/// </summary>
public sealed class SwitchActor : ReceiveActor, IWithTimers
{
    private readonly string _name;
    private readonly SwitchOptions _options;
    private readonly TimeProvider _time;
    private readonly long _ageing;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly Dictionary<int, SwitchPort> _ports = [];
    private readonly Dictionary<MacAddress, Station> _macs = [];
    private readonly Dictionary<int, MacAddress> _owners = [];
    private long _tableFullWarnedAt = long.MinValue;

    public SwitchActor(string name, SwitchCounters counters, SwitchOptions options, TimeProvider time)
    {
        _name = name;
        _options = options;
        _time = time;
        _ageing = (long)(options.MacAgeing.TotalSeconds * time.TimestampFrequency);
        Counters = counters;
        Receive<SwitchProtocol.FrameIn>(OnFrame);
        Receive<SwitchProtocol.AddPort>(OnAddPort);
        Receive<SwitchProtocol.RemovePort>(OnRemovePort);
        Receive<SwitchProtocol.Sweep>(_ => Sweep(_time.GetTimestamp()));
    }

    public SwitchCounters Counters { get; }

    public ITimerScheduler Timers { get; set; } = null!;

    public static Props Props(string name, SwitchCounters counters, SwitchOptions options, TimeProvider? time = null) =>
        Akka.Actor.Props.Create(() => new SwitchActor(name, counters, options, time ?? TimeProvider.System));

    protected override void PreStart()
    {
        var every = TimeSpan.FromTicks(Math.Clamp(_options.MacAgeing.Ticks / 4, TimeSpan.TicksPerSecond, 30 * TimeSpan.TicksPerSecond));
        Timers.StartPeriodicTimer("sweep", SwitchProtocol.Sweep.Instance, every);
    }

    private void OnAddPort(SwitchProtocol.AddPort add)
    {
        _ports[add.PortId] = add.Port;
        if (add.Owner is { } owner)
        {
            _owners[add.PortId] = owner;
        }

        Counters.SetPorts(_ports.Count);
    }

    private void OnRemovePort(SwitchProtocol.RemovePort remove)
    {
        _ports.Remove(remove.PortId);
        _owners.Remove(remove.PortId);
        foreach (var mac in _macs.Where(m => m.Value.Port == remove.PortId).Select(m => m.Key).ToList())
        {
            _macs.Remove(mac);
        }

        Counters.SetPorts(_ports.Count);
        Counters.SetMacTableSize(_macs.Count);
    }

    private void OnFrame(SwitchProtocol.FrameIn message)
    {
        var frame = message.Frame;
        if (!_ports.TryGetValue(message.PortId, out var ingress))
        {
            Counters.CountDropped();
            return;
        }

        ingress.Left(frame.Length);
        if (!NetFrame.HasEthernetHeader(frame) || frame.Length > NetFrame.MaxSize)
        {
            Counters.CountDropped();
            return;
        }

        var source = NetFrame.Source(frame);
        if (source.IsMulticast || (_owners.TryGetValue(message.PortId, out var owner) && source != owner))
        {
            Counters.CountDropped();
            return;
        }

        var now = _time.GetTimestamp();
        if (!source.IsZero)
        {
            Learn(source, message.PortId, now);
        }

        var destination = NetFrame.Destination(frame);
        if (!destination.IsMulticast && Lookup(destination, now) is { } port)
        {
            if (port == message.PortId)
            {
                Counters.CountFiltered();
                return;
            }

            if (_ports.TryGetValue(port, out var egress))
            {
                Counters.CountForwarded();
                Deliver(egress, frame);
                return;
            }
        }

        Flood(message.PortId, frame);
    }

    private void Flood(int ingress, byte[] frame)
    {
        Counters.CountFlooded();
        SwitchPort? last = null;
        foreach (var (id, port) in _ports)
        {
            if (id == ingress)
            {
                continue;
            }

            // Every port but the last gets its own copy: a receiver may write into its frame (e.g. num_buffers).
            if (last is not null)
            {
                Deliver(last, (byte[])frame.Clone());
            }

            last = port;
        }

        if (last is not null)
        {
            Deliver(last, frame);
        }
    }

    private void Deliver(SwitchPort port, byte[] frame)
    {
        try
        {
            port.Deliver(frame);
        }
        catch (Exception e)
        {
            // A receiver that throws loses the frame, not the switch's table.
            Counters.CountDropped();
            _log.Warning("Switch {0}: delivering to {1} failed: {2}", _name, port.Name, e.Message);
        }
    }

    private void Learn(MacAddress mac, int port, long now)
    {
        if (_macs.TryGetValue(mac, out var station))
        {
            station.Port = port;
            station.SeenAt = now;
            return;
        }

        if (_macs.Count >= _options.MaxMacs)
        {
            Sweep(now);
            if (_macs.Count >= _options.MaxMacs)
            {
                if (now - _tableFullWarnedAt > _ageing)
                {
                    _tableFullWarnedAt = now;
                    _log.Warning("Switch {0}: MAC table full ({1}); {2} on {3} not learned (its frames flood)", _name, _options.MaxMacs, mac, _ports[port].Name);
                }

                return;
            }
        }

        _macs[mac] = new Station { Port = port, SeenAt = now };
        Counters.SetMacTableSize(_macs.Count);
    }

    private int? Lookup(MacAddress mac, long now)
    {
        if (!_macs.TryGetValue(mac, out var station))
        {
            return null;
        }

        if (now - station.SeenAt < _ageing)
        {
            return station.Port;
        }

        _macs.Remove(mac);
        Counters.SetMacTableSize(_macs.Count);
        return null;
    }

    private void Sweep(long now)
    {
        foreach (var mac in _macs.Where(m => now - m.Value.SeenAt >= _ageing).Select(m => m.Key).ToList())
        {
            _macs.Remove(mac);
        }

        Counters.SetMacTableSize(_macs.Count);
    }

    /// <summary>Where a learned MAC was last seen (mutable: updated in place by each frame from it).</summary>
    private sealed class Station
    {
        public int Port { get; set; }

        public long SeenAt { get; set; }
    }
}
