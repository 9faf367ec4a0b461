using System.Buffers.Binary;
using System.Collections.Immutable;
using ActorVmm.Actors.Snapshots;
using Xunit;

namespace ActorVmm.Actors.Tests.Snapshots;

public sealed class SnapshotFileSpecs : IDisposable
{
    private readonly string _directory = Path.Combine(Path.GetTempPath(), $"actorvmm-snapfile-{Guid.NewGuid():N}");
    private readonly string _path;
    private readonly SnapshotDeviceCases _cases = new();

    public SnapshotFileSpecs()
    {
        Directory.CreateDirectory(_directory);
        _path = Path.Combine(_directory, SnapshotDirectory.StateFileName);
    }

    public void Dispose()
    {
        _cases.Dispose();
        Directory.Delete(_directory, recursive: true);
    }

    [Fact]
    public void SnapshotFile_should_read_back_a_whole_vm_state_as_written()
    {
        var state = Sample();

        SnapshotFile.Write(_path, state);
        var read = SnapshotFile.Read(_path);

        StateAssert.DeepEqual(state, read);
        Assert.All(read.Disks, d => Assert.Equal(DateTimeKind.Utc, d.LastWriteUtc.Kind));
    }

    [Fact]
    public void SnapshotFile_should_replace_an_existing_file_and_leave_no_temporary_behind()
    {
        SnapshotFile.Write(_path, Sample() with { Settings = "first" });

        SnapshotFile.Write(_path, Sample() with { Settings = "second" });

        Assert.Equal("second", SnapshotFile.Read(_path).Settings);
        Assert.Equal([_path], Directory.GetFiles(_directory));
    }

    [Fact]
    public void SnapshotFile_should_write_the_documented_header()
    {
        SnapshotFile.Write(_path, Sample());
        var bytes = File.ReadAllBytes(_path);

        Assert.Equal("AVMSNAP\0"u8.ToArray(), bytes[..8]);
        Assert.Equal((uint)SnapshotFile.CurrentVersion, BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(8)));
        Assert.Equal(0u, BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(12)));
        Assert.Equal((ulong)(bytes.Length - 24 - 32), BinaryPrimitives.ReadUInt64LittleEndian(bytes.AsSpan(16)));
        Assert.Equal(System.Security.Cryptography.SHA256.HashData(bytes.AsSpan(24, bytes.Length - 56)), bytes[^32..]);
    }

    [Fact]
    public void SnapshotFile_should_refuse_a_newer_format_version()
    {
        SnapshotFile.WriteRaw(_path, SnapshotFile.CurrentVersion + 1, 0, [1, 2, 3]);

        var ex = Assert.Throws<SnapshotFormatException>(() => SnapshotFile.Read(_path));

        Assert.Equal(
            $"snapshot {_path}: snapshot format {SnapshotFile.CurrentVersion + 1} is newer than this actorvmm reads ({SnapshotFile.CurrentVersion}): upgrade actorvmm",
            ex.Message);
    }

    [Fact]
    public void SnapshotFile_should_refuse_format_0_as_too_old_to_migrate()
    {
        SnapshotFile.WriteRaw(_path, 0, 0, SnapshotPayloadOf(Sample()));

        var ex = Assert.Throws<SnapshotFormatException>(() => SnapshotFile.Read(_path));

        Assert.Equal($"snapshot {_path}: snapshot format 0 is too old to migrate (this actorvmm reads formats 1 to {SnapshotFile.CurrentVersion})", ex.Message);
    }

    [Fact]
    public void SnapshotFile_should_refuse_flags_it_does_not_know()
    {
        SnapshotFile.WriteRaw(_path, SnapshotFile.CurrentVersion, 0x10, SnapshotPayloadOf(Sample()));

        var ex = Assert.Throws<SnapshotFormatException>(() => SnapshotFile.Read(_path));

        Assert.Contains("flags 0x10", ex.Message);
    }

    [Fact]
    public void SnapshotFile_should_refuse_a_file_that_is_not_a_snapshot()
    {
        File.WriteAllText(_path, "#!/bin/sh\necho hello, this is not a snapshot at all\n");

        var ex = Assert.Throws<SnapshotFormatException>(() => SnapshotFile.Read(_path));

        Assert.Equal($"snapshot {_path}: not an ActorVmm snapshot", ex.Message);
    }

    [Fact]
    public void SnapshotFile_should_name_a_missing_file()
    {
        var missing = Path.Combine(_directory, "nope", SnapshotDirectory.StateFileName);

        var ex = Assert.Throws<SnapshotFormatException>(() => SnapshotFile.Read(missing));

        Assert.Equal($"snapshot {missing}: no such file", ex.Message);
    }

    [Fact]
    public void SnapshotFile_should_refuse_every_truncation()
    {
        SnapshotFile.Write(_path, Sample());
        var whole = File.ReadAllBytes(_path);

        for (var length = 0; length < whole.Length; length++)
        {
            File.WriteAllBytes(_path, whole[..length]);

            var ex = Assert.Throws<SnapshotFormatException>(() => SnapshotFile.Read(_path));

            Assert.StartsWith($"snapshot {_path}: ", ex.Message);
            Assert.DoesNotContain('\n', ex.Message);
            if (length >= 24)
            {
                Assert.Contains("truncated", ex.Message);
            }
        }
    }

    [Fact]
    public void SnapshotFile_should_refuse_bytes_after_the_checksum()
    {
        SnapshotFile.Write(_path, Sample());
        File.AppendAllText(_path, "x");

        var ex = Assert.Throws<SnapshotFormatException>(() => SnapshotFile.Read(_path));

        Assert.Contains("1 unexpected bytes after the checksum", ex.Message);
    }

    [Fact]
    public void SnapshotFile_should_report_every_byte_flip_after_the_header_as_a_checksum_mismatch()
    {
        SnapshotFile.Write(_path, Sample());
        var whole = File.ReadAllBytes(_path);

        for (var at = 24; at < whole.Length; at++)
        {
            var damaged = (byte[])whole.Clone();
            damaged[at] ^= 0x40;
            File.WriteAllBytes(_path, damaged);

            var ex = Assert.Throws<SnapshotFormatException>(() => SnapshotFile.Read(_path));

            Assert.Equal($"snapshot {_path}: checksum mismatch: the file is corrupt", ex.Message);
        }
    }

    [Fact]
    public void SnapshotFile_should_refuse_every_byte_flip_in_the_header()
    {
        SnapshotFile.Write(_path, Sample());
        var whole = File.ReadAllBytes(_path);

        for (var at = 0; at < 24; at++)
        {
            foreach (var mask in new byte[] { 0x01, 0x80 })
            {
                var damaged = (byte[])whole.Clone();
                damaged[at] ^= mask;
                File.WriteAllBytes(_path, damaged);

                var ex = Assert.Throws<SnapshotFormatException>(() => SnapshotFile.Read(_path));

                Assert.DoesNotContain('\n', ex.Message);
            }
        }
    }

    [Fact]
    public void SnapshotFile_should_name_the_device_whose_state_does_not_decode()
    {
        var payload = SnapshotPayloadOf(Sample() with
        {
            Devices = [new DeviceSnapshot("com1", DeviceStateSamples.Serial)],
        });
        // The state follows the name (u32 length 4, "com1") and the state's u32 length; it opens with its tag.
        var at = FindSubsequence(payload, [4, 0, 0, 0, (byte)'c', (byte)'o', (byte)'m', (byte)'1']) + 8 + 4;
        Assert.Equal(5, payload[at]); // Serial16550State
        payload[at] = 0xEE;
        SnapshotFile.WriteRaw(_path, SnapshotFile.CurrentVersion, 0, payload);

        var ex = Assert.Throws<SnapshotFormatException>(() => SnapshotFile.Read(_path));

        Assert.Equal($"snapshot {_path}: format 1 payload is invalid: device 'com1': device state: unknown type tag 238", ex.Message);
    }

    [Fact]
    public void SnapshotFile_should_refuse_to_write_a_device_state_it_has_no_codec_for_naming_the_device()
    {
        var state = Sample() with { Devices = [new DeviceSnapshot("odd0", new Uri("http://x"))] };

        var ex = Assert.Throws<NotSupportedException>(() => SnapshotFile.Write(_path, state));

        Assert.Contains("device 'odd0'", ex.Message);
        Assert.Contains("System.Uri", ex.Message);
        Assert.False(File.Exists(_path));
    }

    [Fact]
    public void SnapshotFile_should_keep_the_previous_snapshot_when_a_write_fails()
    {
        SnapshotFile.Write(_path, Sample() with { Settings = "kept" });

        Assert.Throws<NotSupportedException>(() => SnapshotFile.Write(_path, Sample() with { Devices = [new DeviceSnapshot("odd0", 1.5)] }));

        Assert.Equal("kept", SnapshotFile.Read(_path).Settings);
        Assert.Equal([_path], Directory.GetFiles(_directory));
    }

    [Fact]
    public void SnapshotFile_should_refuse_a_directory_in_one_line()
    {
        var ex = Assert.Throws<SnapshotFormatException>(() => SnapshotFile.Read(_directory));

        Assert.StartsWith($"snapshot {_directory}: cannot be read: ", ex.Message);
        Assert.DoesNotContain('\n', ex.Message);
    }

    [Fact]
    public void Snapshot_payload_decoder_should_answer_garbage_only_with_invalid_data()
    {
        var random = new Random(4122026);
        var valid = SnapshotPayloadOf(Sample());
        for (var i = 0; i < 10_000; i++)
        {
            byte[] bytes;
            if (i % 2 == 0)
            {
                bytes = new byte[random.Next(0, 400)];
                random.NextBytes(bytes);
            }
            else
            {
                bytes = (byte[])valid.Clone();
                for (var flips = random.Next(1, 4); flips > 0; flips--)
                {
                    bytes[random.Next(bytes.Length)] = (byte)random.Next(256);
                }
            }

            try
            {
                SnapshotPayload.DecodeV1(bytes);
            }
            catch (InvalidDataException ex)
            {
                Assert.DoesNotContain('\n', ex.Message);
            }
        }
    }

    [Fact]
    public void Snapshot_payload_decoder_should_refuse_every_truncation()
    {
        var valid = SnapshotPayloadOf(Sample());

        for (var length = 0; length < valid.Length; length++)
        {
            Assert.Throws<InvalidDataException>(() => SnapshotPayload.DecodeV1(valid[..length]));
        }
    }

    private static byte[] SnapshotPayloadOf(VmSnapshotState state) => SnapshotPayload.Encode(state);

    private static int FindSubsequence(byte[] haystack, byte[] needle)
    {
        for (var i = 0; i + needle.Length <= haystack.Length; i++)
        {
            if (haystack.AsSpan(i, needle.Length).SequenceEqual(needle))
            {
                return i;
            }
        }

        return -1;
    }

    /// <summary>A VM with real device states (as the devices saved them after guest accesses) and every section filled.</summary>
    private VmSnapshotState Sample()
    {
        var devices = _cases.Stateful
            .Select(c =>
            {
                var device = c.Value.Create();
                c.Value.Exercise(device);
                return new DeviceSnapshot(c.Key.Name.ToLowerInvariant(), device.SaveState());
            })
            .Append(new DeviceSnapshot("plain0", null))
            .ToImmutableArray();
        return new VmSnapshotState(
            SnapshotFile.CurrentVersion,
            "{\"memory\":\"256M\",\"cpus\":2,\"name\":\"vm-ä\"}",
            [DeviceStateSamples.Pattern(300), DeviceStateSamples.Pattern(17)],
            DeviceStateSamples.Pattern(1000),
            devices,
            [new MemoryRegionInfo(0, 0xC000_0000), new MemoryRegionInfo(0x1_0000_0000, 0x4000_0000)],
            [
                new DiskReference("disk0", "/var/lib/vm/root.img", 8L << 30, new DateTime(2026, 12, 1, 10, 30, 0, DateTimeKind.Utc), false),
                new DiskReference("disk1", "/srv/iso/data ünïcode.iso", 700L << 20, new DateTime(2025, 1, 2, 3, 4, 5, DateTimeKind.Utc), true),
            ],
            new DateTimeOffset(2026, 12, 4, 23, 1, 2, TimeSpan.FromHours(2)).AddTicks(1234567));
    }
}
