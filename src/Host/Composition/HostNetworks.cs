using ActorVmm.Actors.Net;
using ActorVmm.Devices.Net;
using ActorVmm.Host.Settings;
using ActorVmm.Kvm.Linux;
using Akka.Actor;

namespace ActorVmm.Host.Composition;

/// <summary>
/// The networks of this process that NICs connect to: TAP devices on the host, and the in-process switches that
/// join the NICs of every VM in the process naming them (<c>actorvmm serve</c>, or one <c>run</c>). A switch with an
/// uplink in <c>actorvmm.switches</c> gets it when its first NIC connects, and keeps it while the process runs.
/// </summary>
public sealed class HostNetworks : IDisposable
{
    private readonly Task<ActorSystem> _system;
    private readonly IReadOnlyDictionary<string, SwitchSettings> _options;
    private readonly Lock _sync = new();
    private readonly List<IDisposable> _uplinks = [];
    private readonly HashSet<string> _uplinked = new(StringComparer.Ordinal);
    private SwitchRegistry? _switches;
    private bool _disposed;

    /// <param name="system">The actor system the switches run in (awaited only when a NIC names a switch).</param>
    /// <param name="switches">Switch options (<c>actorvmm.switches</c>).</param>
    public HostNetworks(Task<ActorSystem> system, IReadOnlyList<SwitchSettings> switches)
    {
        _system = system;
        _options = switches.ToDictionary(s => s.Name, StringComparer.Ordinal);
    }

    /// <summary>The switches, once a NIC named one (null before).</summary>
    public SwitchRegistry? Switches
    {
        get
        {
            lock (_sync)
            {
                return _switches;
            }
        }
    }

    /// <summary>Connects NIC <paramref name="nic"/> of VM <paramref name="vm"/> to what <paramref name="net"/> names.</summary>
    /// <exception cref="VmBuildException">The TAP cannot be used, or the MAC is on that switch already (one line).</exception>
    public INetLink Connect(NetSettings net, string vm, string nic, MacAddress mac)
    {
        ArgumentNullException.ThrowIfNull(net);
        if (net.Kind == NetBackendKind.Tap)
        {
            return OpenTap(net.Name, nic);
        }

        SwitchRegistry switches;
        lock (_sync)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            switches = _switches ??= new SwitchRegistry(_system.GetAwaiter().GetResult());
            if (_options.TryGetValue(net.Name, out var options) && options.Uplink is { } uplink && !_uplinked.Contains(net.Name))
            {
                // Marked only once attached: an uplink that could not be opened is tried again by the next NIC.
                var link = OpenTap(uplink, $"switch {net.Name}'s uplink");
                try
                {
                    _uplinks.Add(switches.AttachUplink(net.Name, link));
                }
                catch (NetLinkException e)
                {
                    link.Dispose();
                    throw new VmBuildException($"switch {net.Name}'s uplink: {e.Message}", e);
                }

                _uplinked.Add(net.Name);
            }
        }

        try
        {
            return switches.Attach(net.Name, $"{vm}/{nic}", mac);
        }
        catch (NetLinkException e)
        {
            throw new VmBuildException($"{nic}: {e.Message}", e);
        }
    }

    public void Dispose()
    {
        lock (_sync)
        {
            _disposed = true;
            _uplinks.ForEach(u => u.Dispose());
            _uplinks.Clear();
        }
    }

    private static TapLink OpenTap(string name, string user)
    {
        try
        {
            return TapLink.Open(name);
        }
        catch (TapException e)
        {
            throw new VmBuildException($"{user}: {e.Message}", e);
        }
    }
}
