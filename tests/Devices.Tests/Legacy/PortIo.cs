namespace ActorVmm.Devices.Tests.Legacy;

/// <summary>Byte-wide port accesses on a device, as a vCPU's in/out would do them.</summary>
internal static class PortIo
{
    public static byte In(this IBusDevice device, ulong offset)
    {
        Span<byte> data = [0];
        device.Read(offset, data);
        return data[0];
    }

    public static void Out(this IBusDevice device, ulong offset, byte value) => device.Write(offset, [value]);
}
