using ActorVmm.Actors.Bus;
using ActorVmm.Actors.Endpoints;
using ActorVmm.Actors.Settings;
using BusMap = ActorVmm.Actors.Bus.Bus;

namespace ActorVmm.Actors.Vm;

/// <summary>
/// A VM's bus and the endpoint of each of its devices, built from the device blueprints before the VM actor exists
/// (by the machine builder, or by <see cref="VmActor.Props"/>). Endpoints are in blueprint order.
/// </summary>
public sealed record VmBus(BusMap Bus, IReadOnlyList<DeviceEndpoint> Endpoints)
{
    /// <exception cref="BusConflictException">Two devices overlap, or a range is empty/wraps.</exception>
    /// <exception cref="ArgumentException">Device names are empty or not unique.</exception>
    public static VmBus Build(IReadOnlyList<DeviceBlueprint> devices, DeviceSettings settings)
    {
        var names = new HashSet<string>(StringComparer.Ordinal);
        var builder = new BusBuilder();
        var endpoints = new List<DeviceEndpoint>();
        foreach (var device in devices)
        {
            if (string.IsNullOrWhiteSpace(device.Name) || !names.Add(device.Name))
            {
                throw new ArgumentException($"Device names must be non-empty and unique in a VM; '{device.Name}' is not", nameof(devices));
            }

            var endpoint = new DeviceEndpoint(device.Name, settings, inline: device.Inline) { Kind = device.Kind };
            endpoints.Add(endpoint);
            foreach (var range in device.Ranges)
            {
                builder.Add(range, endpoint);
            }
        }

        return new VmBus(builder.Build(), endpoints);
    }
}
