using System.Collections.Immutable;

namespace ActorVmm.Actors.Snapshots;

/// <summary>
/// The payload of <c>state.bin</c> in format version 1: settings, TakenAt, vCPU blobs, the VM-KVM blob, devices
/// (name and a length-prefixed <see cref="DeviceStateCodec"/> value each), memory regions and disks, in that order.
/// Decoding reads a checksummed in-memory payload, so every count is also bounded by the bytes left.
/// </summary>
internal static class SnapshotPayload
{
    public const int MaxSettingsBytes = 1 << 20;
    public const int MaxNameBytes = 256;
    public const int MaxPathBytes = 4096;
    public const int MaxVcpus = 4096;
    public const int MaxBlobBytes = 16 << 20;
    public const int MaxDevices = 4096;
    public const int MaxDeviceStateBytes = 16 << 20;
    public const int MaxMemoryRegions = 1024;
    public const int MaxDisks = 1024;

    /// <summary>UTC offsets a <see cref="DateTimeOffset"/> may have, in minutes.</summary>
    private const int MaxOffsetMinutes = 14 * 60;

    public static byte[] Encode(VmSnapshotState s)
    {
        ArgumentNullException.ThrowIfNull(s);
        ArgumentNullException.ThrowIfNull(s.Settings);
        ArgumentNullException.ThrowIfNull(s.VmKvm);
        if (s.Vcpus.IsDefault || s.Devices.IsDefault || s.Memory.IsDefault || s.Disks.IsDefault)
        {
            throw new ArgumentException("a snapshot's vCPU, device, memory and disk lists must be set (empty, not default)", nameof(s));
        }

        using var stream = new MemoryStream();
        using (var w = new BinaryWriter(stream))
        {
            w.WriteString(s.Settings, MaxSettingsBytes, "settings");
            w.Write(s.TakenAt.UtcTicks);
            w.Write((short)s.TakenAt.TotalOffsetMinutes);
            w.WriteCount(s.Vcpus.Length, MaxVcpus, "vCPUs");
            foreach (var vcpu in s.Vcpus)
            {
                w.WriteBytes(vcpu ?? throw new ArgumentException("a vCPU state is null"), MaxBlobBytes, "vCPU state");
            }

            w.WriteBytes(s.VmKvm, MaxBlobBytes, "VM KVM state");
            w.WriteCount(s.Devices.Length, MaxDevices, "devices");
            foreach (var device in s.Devices)
            {
                CheckName(device.Name, "device name");
                w.WriteString(device.Name, MaxNameBytes, "device name");
                byte[] state;
                try
                {
                    state = DeviceStateCodec.Encode(device.State);
                }
                catch (Exception ex) when (ex is NotSupportedException or ArgumentException)
                {
                    throw new NotSupportedException($"device '{device.Name}': {ex.Message}", ex);
                }

                w.WriteBytes(state, MaxDeviceStateBytes, $"device '{device.Name}' state");
            }

            w.WriteCount(s.Memory.Length, MaxMemoryRegions, "memory regions");
            foreach (var region in s.Memory)
            {
                w.Write(region.GuestAddress);
                w.Write(region.Size);
            }

            w.WriteCount(s.Disks.Length, MaxDisks, "disks");
            foreach (var disk in s.Disks)
            {
                CheckName(disk.Device, "disk device");
                w.WriteString(disk.Device, MaxNameBytes, "disk device");
                w.WriteString(disk.Path, MaxPathBytes, "disk path");
                w.Write(disk.Size);
                w.Write(disk.LastWriteUtc.Kind == DateTimeKind.Local ? disk.LastWriteUtc.ToUniversalTime().Ticks : disk.LastWriteUtc.Ticks);
                w.Write(disk.ReadOnly);
            }
        }

        return stream.ToArray();
    }

    /// <exception cref="InvalidDataException">The payload is not a valid version 1 payload (one line).</exception>
    public static VmSnapshotState DecodeV1(byte[] payload)
    {
        using var stream = new MemoryStream(payload, writable: false);
        using var r = new BinaryReader(stream);
        try
        {
            var settings = r.ReadBoundedString(MaxSettingsBytes, "settings");
            var takenAt = ReadDateTimeOffset(r);
            var vcpuCount = r.ReadCount(MaxVcpus, sizeof(uint), "vCPUs");
            var vcpus = ImmutableArray.CreateBuilder<byte[]>(vcpuCount);
            for (var i = 0; i < vcpuCount; i++)
            {
                vcpus.Add(r.ReadBoundedBytes(MaxBlobBytes, $"vCPU {i} state"));
            }

            var vmKvm = r.ReadBoundedBytes(MaxBlobBytes, "VM KVM state");
            var deviceCount = r.ReadCount(MaxDevices, 2 * sizeof(uint), "devices");
            var devices = ImmutableArray.CreateBuilder<DeviceSnapshot>(deviceCount);
            for (var i = 0; i < deviceCount; i++)
            {
                var name = r.ReadName(MaxNameBytes, "device name");
                var bytes = r.ReadBoundedBytes(MaxDeviceStateBytes, $"device '{name}' state");
                try
                {
                    devices.Add(new DeviceSnapshot(name, DeviceStateCodec.Decode(bytes)));
                }
                catch (InvalidDataException ex)
                {
                    throw new InvalidDataException($"device '{name}': {ex.Message}");
                }
            }

            var regionCount = r.ReadCount(MaxMemoryRegions, 16, "memory regions");
            var memory = ImmutableArray.CreateBuilder<MemoryRegionInfo>(regionCount);
            for (var i = 0; i < regionCount; i++)
            {
                var region = new MemoryRegionInfo(r.ReadUInt64(), r.ReadUInt64());
                if (region.Size > ulong.MaxValue - region.GuestAddress)
                {
                    throw new InvalidDataException($"memory region {i} at 0x{region.GuestAddress:x} of 0x{region.Size:x} bytes wraps around");
                }

                memory.Add(region);
            }

            var diskCount = r.ReadCount(MaxDisks, 2 * sizeof(uint), "disks");
            var disks = ImmutableArray.CreateBuilder<DiskReference>(diskCount);
            for (var i = 0; i < diskCount; i++)
            {
                var device = r.ReadName(MaxNameBytes, "disk device");
                var path = r.ReadBoundedString(MaxPathBytes, "disk path");
                var size = r.ReadInt64();
                if (size < 0)
                {
                    throw new InvalidDataException($"disk '{device}': negative size {size}");
                }

                var lastWrite = ReadUtc(r, $"disk '{device}' last write time");
                disks.Add(new DiskReference(device, path, size, lastWrite, r.ReadStrictBoolean($"disk '{device}' read-only")));
            }

            if (stream.Position != stream.Length)
            {
                throw new InvalidDataException($"{stream.Length - stream.Position} unexpected bytes after the last section");
            }

            return new VmSnapshotState(
                1, settings, vcpus.MoveToImmutable(), vmKvm, devices.MoveToImmutable(), memory.MoveToImmutable(),
                disks.MoveToImmutable(), takenAt);
        }
        catch (EndOfStreamException)
        {
            throw new InvalidDataException("the payload ends inside a section");
        }
    }

    /// <summary>Refuses on write what <see cref="BoundedReader.ReadName"/> refuses on read.</summary>
    private static void CheckName(string name, string what)
    {
        if (string.IsNullOrEmpty(name) || name.Any(char.IsControl))
        {
            throw new ArgumentException($"{what} '{name}' is empty or holds control characters");
        }
    }

    private static DateTimeOffset ReadDateTimeOffset(BinaryReader r)
    {
        var utc = ReadUtc(r, "snapshot time");
        var offset = r.ReadInt16();
        if (Math.Abs((int)offset) > MaxOffsetMinutes)
        {
            throw new InvalidDataException($"snapshot time: UTC offset of {offset} minutes is out of range");
        }

        var local = utc.Ticks + (offset * TimeSpan.TicksPerMinute);
        if (local < DateTime.MinValue.Ticks || local > DateTime.MaxValue.Ticks)
        {
            throw new InvalidDataException("snapshot time: out of range");
        }

        return new DateTimeOffset(utc).ToOffset(TimeSpan.FromMinutes(offset));
    }

    private static DateTime ReadUtc(BinaryReader r, string what)
    {
        var ticks = r.ReadInt64();
        if (ticks < DateTime.MinValue.Ticks || ticks > DateTime.MaxValue.Ticks)
        {
            throw new InvalidDataException($"{what}: {ticks} ticks is out of range");
        }

        return new DateTime(ticks, DateTimeKind.Utc);
    }
}
