using ActorVmm.Devices;
using ActorVmm.Kvm;
using ActorVmm.Kvm.Interop;

namespace ActorVmm.Actors.Irq;

/// <summary>
/// The VM's GSI routing table: KVM's x86 default (the irqchip pins, <see cref="KvmIrqRouting.X86Default"/>) plus one
/// MSI route per programmed vector, on GSIs from <see cref="Layout.FirstMsiGsi"/> up. Each change sends the whole table
/// (KVM_SET_GSI_ROUTING replaces it). Only x86 interrupt addresses are routed; a table KVM refuses leaves the
/// previous one in place and the change is reported as refused. Thread-safe.
/// </summary>
internal sealed class KvmMsiRoutes(KvmVm vm)
{
    private readonly KvmIrqRoutingEntry[] _defaults = KvmIrqRouting.X86Default();
    private readonly Lock _sync = new();
    private readonly SortedDictionary<uint, MsiMessage> _routes = [];
    private uint _next = Layout.FirstMsiGsi;

    /// <summary>Routes programmed now.</summary>
    public int Count
    {
        get
        {
            lock (_sync)
            {
                return _routes.Count;
            }
        }
    }

    /// <summary>Reserves <paramref name="count"/> consecutive GSIs; returns the first.</summary>
    public uint Allocate(int count)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(count, 1);
        lock (_sync)
        {
            if (_next - Layout.FirstMsiGsi + (uint)count > Layout.MaxMsiGsis)
            {
                throw new InvalidOperationException($"no {count} MSI GSIs left (at most {Layout.MaxMsiGsis})");
            }

            var first = _next;
            _next += (uint)count;
            return first;
        }
    }

    /// <summary>Routes <paramref name="gsi"/> to <paramref name="message"/>; false (and unrouted) when it is not an interrupt or KVM refuses.</summary>
    public bool Set(uint gsi, MsiMessage message)
    {
        lock (_sync)
        {
            var had = _routes.TryGetValue(gsi, out var old);
            if (had && old == message)
            {
                return true;
            }

            if (!message.IsX86Interrupt)
            {
                if (had)
                {
                    _routes.Remove(gsi);
                    TryPush();
                }

                return false;
            }

            _routes[gsi] = message;
            if (TryPush())
            {
                return true;
            }

            _routes.Remove(gsi);
            TryPush();
            return false;
        }
    }

    public void Remove(uint gsi)
    {
        lock (_sync)
        {
            if (_routes.Remove(gsi))
            {
                TryPush();
            }
        }
    }

    private bool TryPush()
    {
        var table = new KvmIrqRoutingEntry[_defaults.Length + _routes.Count];
        _defaults.CopyTo(table, 0);
        var i = _defaults.Length;
        foreach (var (gsi, message) in _routes)
        {
            table[i++] = KvmIrqRoutingEntry.ForMsi(gsi, message.Address, message.Data);
        }

        try
        {
            vm.SetGsiRouting(table);
            return true;
        }
        catch (Exception ex) when (ex is KvmException or ObjectDisposedException)
        {
            return false;
        }
    }
}
