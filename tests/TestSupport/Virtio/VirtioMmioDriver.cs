using System.Buffers.Binary;
using ActorVmm.Devices;
using ActorVmm.Devices.Virtio;
using static ActorVmm.Devices.Virtio.VirtioMmioLayout;

namespace ActorVmm.TestSupport.Virtio;

/// <summary>The guest driver's side of the virtio-mmio transport (version 2), as Linux's virtio_mmio drives it.</summary>
public sealed class VirtioMmioDriver
{
    private readonly IBusDevice _device;

    public VirtioMmioDriver(IBusDevice device)
    {
        _device = device;
    }

    public uint Status => Read32(VirtioMmioLayout.Status);

    public ulong ReadDeviceFeatures()
    {
        Write32(DeviceFeaturesSel, 1);
        var hi = Read32(DeviceFeatures);
        Write32(DeviceFeaturesSel, 0);
        var lo = Read32(DeviceFeatures);
        return ((ulong)hi << 32) | lo;
    }

    public void WriteDriverFeatures(ulong features)
    {
        Write32(DriverFeaturesSel, 1);
        Write32(DriverFeatures, (uint)(features >> 32));
        Write32(DriverFeaturesSel, 0);
        Write32(DriverFeatures, (uint)features);
    }

    public void AddStatus(VirtioDeviceStatus bits) => Write32(VirtioMmioLayout.Status, Status | (uint)bits);

    /// <summary>Reset, ACKNOWLEDGE, DRIVER, features, FEATURES_OK; returns whether the device kept FEATURES_OK.</summary>
    public bool Negotiate(ulong features)
    {
        Write32(VirtioMmioLayout.Status, 0);
        AddStatus(VirtioDeviceStatus.Acknowledge);
        AddStatus(VirtioDeviceStatus.Driver);
        WriteDriverFeatures(features);
        AddStatus(VirtioDeviceStatus.FeaturesOk);
        return (Status & (uint)VirtioDeviceStatus.FeaturesOk) != 0;
    }

    public void SetupQueue(int index, MockVirtqueue queue)
    {
        Write32(QueueSel, (uint)index);
        Write32(QueueNum, queue.Size);
        Write32(QueueDescLow, (uint)queue.Desc.Value);
        Write32(QueueDescHigh, (uint)(queue.Desc.Value >> 32));
        Write32(QueueDriverLow, (uint)queue.Avail.Value);
        Write32(QueueDriverHigh, (uint)(queue.Avail.Value >> 32));
        Write32(QueueDeviceLow, (uint)queue.Used.Value);
        Write32(QueueDeviceHigh, (uint)(queue.Used.Value >> 32));
        Write32(QueueReady, 1);
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

    public void Notify(int queue) => Write32(QueueNotify, (uint)queue);

    /// <summary>What Linux's vm_interrupt does: read InterruptStatus, acknowledge it; returns what was read.</summary>
    public uint AcknowledgeInterrupt()
    {
        var status = Read32(InterruptStatus);
        Write32(InterruptAck, status);
        return status;
    }

    public uint Read32(ulong offset)
    {
        Span<byte> data = stackalloc byte[4];
        _device.Read(offset, data);
        return BinaryPrimitives.ReadUInt32LittleEndian(data);
    }

    public void Write32(ulong offset, uint value)
    {
        Span<byte> data = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(data, value);
        _device.Write(offset, data);
    }
}
