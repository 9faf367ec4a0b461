using ActorVmm.Actors.Faults;
using ActorVmm.Actors.Net;
using ActorVmm.Devices.Net;
using ActorVmm.Host.Settings;

namespace ActorVmm.Host.Composition;

/// <summary>
/// The virtio-net NICs of a VM (<c>net0</c>, <c>net1</c>, ...): each connected to its TAP or switch, behind a
/// <see cref="NetPort"/> that lives for the VM's life (frames waiting for the guest survive a device restart; its
/// faults and capture apply to every instance), each instance a <see cref="VirtioNetDevice"/> on that port.
/// </summary>
internal static class NetDevices
{
    /// <summary>The NICs with a MAC each: the one given, or a random locally administered one (a snapshot records it).</summary>
    public static VmSettings ResolveMacs(VmSettings vm) =>
        vm.Nets.All(n => n.Mac is not null)
            ? vm
            : vm with { Nets = [.. vm.Nets.Select(n => n.Mac is null ? n with { Mac = MacAddress.Generate() } : n)] };

    /// <summary>
    /// Connects every NIC (its MAC already resolved: <see cref="ResolveMacs"/>) and builds its first device instance;
    /// everything opened is owned by <paramref name="resources"/>, and each NIC's port is added to <paramref name="nics"/>.
    /// </summary>
    /// <exception cref="VmBuildException">A TAP or switch cannot be used, or a pcap file not created (one line).</exception>
    public static IEnumerable<PciDevices.VirtioModel> Open(
        VmSettings vm, string vmName, HostNetworks? networks, CompositeDisposable resources, FaultInjector faults, ICollection<BuiltNic>? nics)
    {
        if (vm.Nets.Count > 0 && networks is null)
        {
            throw new VmBuildException("this VM has NICs but its host has no networks to connect them to");
        }

        for (var i = 0; i < vm.Nets.Count; i++)
        {
            var net = vm.Nets[i];
            var name = $"net{i}";
            var mac = net.Mac!.Value;
            var link = networks!.Connect(net, vmName, name, mac);
            if (link is TapLink tap)
            {
                tap.ReaderAffinity = vm.PinIo;
            }

            NetPort port;
            try
            {
                port = resources.Add(new NetPort(name, link));
            }
            catch
            {
                link.Dispose();   // detaches a switch port (its MAC is free again) or closes the TAP
                throw;
            }

            nics?.Add(new BuiltNic(port, mac));
            if (net.Pcap is { } pcap)
            {
                PcapWriter writer;
                try
                {
                    writer = resources.Add(new PcapWriter(pcap, affinity: vm.PinIo));
                }
                catch (IOException e)
                {
                    throw new VmBuildException($"{name}: {e.Message}", e);
                }

                port.Capture = writer.CaptureEthernet;
            }

            faults.AttachNet(name, port);
            var mtu = (ushort)net.Mtu;
            VirtioNetDevice Create() => new(port, mac, mtu);
            yield return new PciDevices.VirtioModel(name, Create(), Create, net.Transport ?? vm.Transport);
        }
    }
}
