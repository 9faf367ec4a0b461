using System.Buffers.Binary;
using ActorVmm.Devices;
using ActorVmm.Devices.Virtio;

namespace ActorVmm.TestSupport.Virtio;

/// <summary>The guest driver's side of the modern virtio-pci transport, as Linux's virtio_pci_modern drives it.</summary>
public sealed class VirtioPciDriver
{
    private readonly IBusDevice _device;

    public VirtioPciDriver(IBusDevice device)
    {
        _device = device;
    }

    public byte Status => Read8(0x14);

    public ulong ReadDeviceFeatures()
    {
        Write32(0x00, 0);
        var lo = Read32(0x04);
        Write32(0x00, 1);
        var hi = Read32(0x04);
        return ((ulong)hi << 32) | lo;
    }

    public void WriteDriverFeatures(ulong features)
    {
        Write32(0x08, 0);
        Write32(0x0C, (uint)features);
        Write32(0x08, 1);
        Write32(0x0C, (uint)(features >> 32));
    }

    public void AddStatus(VirtioDeviceStatus bits) => Write8(0x14, (byte)(Status | (byte)bits));

    /// <summary>ACKNOWLEDGE, DRIVER, features, FEATURES_OK; returns whether the device kept FEATURES_OK.</summary>
    public bool Negotiate(ulong features)
    {
        Write8(0x14, 0);
        AddStatus(VirtioDeviceStatus.Acknowledge);
        AddStatus(VirtioDeviceStatus.Driver);
        WriteDriverFeatures(features);
        AddStatus(VirtioDeviceStatus.FeaturesOk);
        return (Status & (byte)VirtioDeviceStatus.FeaturesOk) != 0;
    }

    public void SetupQueue(int index, MockVirtqueue queue)
    {
        Write16(0x16, (ushort)index);
        Write16(0x18, queue.Size);
        Write32(0x20, (uint)queue.Desc.Value);
        Write32(0x24, (uint)(queue.Desc.Value >> 32));
        Write32(0x28, (uint)queue.Avail.Value);
        Write32(0x2C, (uint)(queue.Avail.Value >> 32));
        Write64(0x30, queue.Used.Value);
        Write16(0x1C, 1);
    }

    /// <summary>The whole bring-up: negotiate everything offered, set up the queues, DRIVER_OK.</summary>
    public void Initialize(params MockVirtqueue[] queues)
    {
        if (!Negotiate(ReadDeviceFeatures()))
        {
            throw new InvalidOperationException("device refused its own features");
        }

        for (var i = 0; i < queues.Length; i++)
        {
            SetupQueue(i, queues[i]);
        }

        AddStatus(VirtioDeviceStatus.DriverOk);
    }

    public void Notify(int queue)
    {
        Span<byte> data = stackalloc byte[2];
        BinaryPrimitives.WriteUInt16LittleEndian(data, (ushort)queue);
        _device.Write(VirtioPciDevice.NotifyOffsetOf(queue), data);
    }

    public byte ReadIsr()
    {
        Span<byte> data = stackalloc byte[1];
        _device.Read(VirtioPciLayout.IsrOffset, data);
        return data[0];
    }

    public byte Read8(ulong offset)
    {
        Span<byte> data = stackalloc byte[1];
        _device.Read(offset, data);
        return data[0];
    }

    public ushort Read16(ulong offset)
    {
        Span<byte> data = stackalloc byte[2];
        _device.Read(offset, data);
        return BinaryPrimitives.ReadUInt16LittleEndian(data);
    }

    public uint Read32(ulong offset)
    {
        Span<byte> data = stackalloc byte[4];
        _device.Read(offset, data);
        return BinaryPrimitives.ReadUInt32LittleEndian(data);
    }

    public ulong Read64(ulong offset)
    {
        Span<byte> data = stackalloc byte[8];
        _device.Read(offset, data);
        return BinaryPrimitives.ReadUInt64LittleEndian(data);
    }

    public void Write8(ulong offset, byte value) => _device.Write(offset, [value]);

    public void Write16(ulong offset, ushort value)
    {
        Span<byte> data = stackalloc byte[2];
        BinaryPrimitives.WriteUInt16LittleEndian(data, value);
        _device.Write(offset, data);
    }

    public void Write32(ulong offset, uint value)
    {
        Span<byte> data = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(data, value);
        _device.Write(offset, data);
    }

    public void Write64(ulong offset, ulong value)
    {
        Span<byte> data = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(data, value);
        _device.Write(offset, data);
    }
}
