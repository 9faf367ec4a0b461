using ActorVmm.Actors.Endpoints;
using ActorVmm.Devices;

namespace ActorVmm.Actors.Tests.Faults;

/// <summary>The guest's view of a device: every access goes through its endpoint, as a vCPU's would.</summary>
internal sealed class EndpointBus(DeviceEndpoint endpoint) : IBusDevice
{
    public string Name => endpoint.Name;

    public void Read(ulong offset, Span<byte> data) => endpoint.Read(offset, data);

    public void Write(ulong offset, ReadOnlySpan<byte> data) => endpoint.Write(offset, data);
}
