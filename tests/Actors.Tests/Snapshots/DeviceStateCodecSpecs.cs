using System.Reflection;
using ActorVmm.Actors.Snapshots;
using ActorVmm.Devices;
using ActorVmm.Devices.Virtio;
using Xunit;

namespace ActorVmm.Actors.Tests.Snapshots;

public sealed class DeviceStateCodecSpecs : IDisposable
{
    private static readonly Assembly _devices = typeof(IStatefulDevice).Assembly;

    private readonly SnapshotDeviceCases _cases = new();

    public void Dispose() => _cases.Dispose();

    [Fact]
    public void DeviceStateCodec_should_have_a_tag_for_every_state_record_in_the_devices_assembly()
    {
        var records = _devices.GetTypes()
            .Where(t => t.IsClass && t.Name.EndsWith("State", StringComparison.Ordinal) && t.GetMethod("<Clone>$") is not null)
            .ToList();

        Assert.NotEmpty(records);
        Assert.All(records, t => Assert.True(DeviceStateCodec.Supports(t), $"{t.FullName} has no snapshot codec"));
    }

    [Fact]
    public void DeviceStateCodec_samples_should_cover_every_state_type_it_supports()
    {
        Assert.Equal(
            DeviceStateCodec.StateTypes.Select(t => t.FullName).Order(),
            DeviceStateSamples.All.Select(s => s.GetType().FullName).Order());
    }

    [Fact]
    public void DeviceStateCodec_should_round_trip_every_state_with_every_field_set()
    {
        foreach (var sample in DeviceStateSamples.All)
        {
            StateAssert.AllSet(sample, sample.GetType().Name);

            var decoded = DeviceStateCodec.Decode(DeviceStateCodec.Encode(sample));

            StateAssert.DeepEqual(sample, decoded, sample.GetType().Name);
        }
    }

    [Fact]
    public void DeviceStateCodec_should_round_trip_states_with_optional_parts_absent()
    {
        foreach (var sample in DeviceStateSamples.Sparse.Append(null))
        {
            var decoded = DeviceStateCodec.Decode(DeviceStateCodec.Encode(sample));

            StateAssert.DeepEqual(sample, decoded, sample?.GetType().Name ?? "null");
        }
    }

    [Fact]
    public void DeviceStateCodec_should_refuse_to_write_a_type_it_has_no_codec_for_naming_it()
    {
        var ex = Assert.Throws<NotSupportedException>(() => DeviceStateCodec.Encode(new Uri("http://x")));

        Assert.Contains("System.Uri", ex.Message);
    }

    [Fact]
    public void DeviceStateCodec_should_refuse_a_nested_state_it_has_no_codec_for()
    {
        var state = DeviceStateSamples.VirtioPci with { DeviceState = 42 };

        var ex = Assert.Throws<NotSupportedException>(() => DeviceStateCodec.Encode(state));

        Assert.Contains("System.Int32", ex.Message);
    }

    [Fact]
    public void Every_stateful_device_in_the_devices_assembly_should_have_a_snapshot_case()
    {
        AssertEveryImplementationHasACase(typeof(IStatefulDevice), _cases.Stateful.Keys);
        AssertEveryImplementationHasACase(typeof(IVirtioDevice), _cases.Virtio.Keys);
    }

    [Fact]
    public void Every_stateful_device_should_come_back_from_its_encoded_state_as_it_was()
    {
        foreach (var (type, (create, exercise)) in _cases.Stateful)
        {
            var device = create();
            var powerOn = device.SaveState();
            exercise(device);
            var saved = device.SaveState();
            Assert.False(SameEncoding(powerOn, saved), $"{type.Name}: the exercise changed nothing");

            var decoded = DeviceStateCodec.Decode(DeviceStateCodec.Encode(saved))!;
            StateAssert.DeepEqual(saved, decoded, type.Name);

            var restored = create();
            restored.RestoreState(decoded);
            StateAssert.DeepEqual(saved, restored.SaveState(), type.Name + " restored");
        }
    }

    [Fact]
    public void Virtio_pci_state_without_msix_or_device_state_should_come_back_as_it_was()
    {
        var device = _cases.CreateVirtioRng();
        _cases.ExerciseVirtio(device);
        var saved = (VirtioPciState)device.SaveState();
        Assert.Null(saved.Msix);
        Assert.Null(saved.DeviceState);

        var restored = _cases.CreateVirtioRng();
        restored.RestoreState(DeviceStateCodec.Decode(DeviceStateCodec.Encode(saved))!);

        StateAssert.DeepEqual(saved, restored.SaveState());
    }

    [Fact]
    public void Every_virtio_device_model_state_should_come_back_from_its_encoding()
    {
        foreach (var (type, (create, exercise)) in _cases.Virtio)
        {
            object? saved;
            var device = create();
            using (device as IDisposable)
            {
                exercise(device);
                saved = device.SaveDeviceState();
            }

            var decoded = DeviceStateCodec.Decode(DeviceStateCodec.Encode(saved));
            StateAssert.DeepEqual(saved, decoded, type.Name);

            var restored = create();
            using (restored as IDisposable)
            {
                restored.RestoreDeviceState(decoded);
                StateAssert.DeepEqual(saved, restored.SaveDeviceState(), type.Name + " restored");
            }
        }
    }

    [Fact]
    public void DeviceStateCodec_should_refuse_an_unknown_tag()
    {
        var ex = Assert.Throws<InvalidDataException>(() => DeviceStateCodec.Decode([0xEE]));

        Assert.Contains("unknown type tag 238", ex.Message);
    }

    [Fact]
    public void DeviceStateCodec_should_refuse_an_absurd_length_without_allocating_it()
    {
        // A byte array claiming 4 GiB - 1.
        var ex = Assert.Throws<InvalidDataException>(() => DeviceStateCodec.Decode([1, 0xFF, 0xFF, 0xFF, 0xFF]));

        Assert.Contains("more than the", ex.Message);
    }

    [Fact]
    public void DeviceStateCodec_should_refuse_a_queue_count_over_the_bound()
    {
        var encoded = DeviceStateCodec.Encode(DeviceStateSamples.VirtioPci);
        var at = 1 + 4 + 256 + 4 + 4 + 8 + 1 + 1 + 1 + 2 + 1; // tag, config, selects, features, status, isr, generation, select, activated
        BitConverter.GetBytes((uint)DeviceStateCodec.MaxQueues + 1).CopyTo(encoded, at);

        var ex = Assert.Throws<InvalidDataException>(() => DeviceStateCodec.Decode(encoded));

        Assert.Contains("virtqueues", ex.Message);
    }

    [Fact]
    public void DeviceStateCodec_should_refuse_every_truncation_of_every_state()
    {
        foreach (var sample in DeviceStateSamples.All)
        {
            var encoded = DeviceStateCodec.Encode(sample);
            for (var length = 0; length < encoded.Length; length++)
            {
                var ex = Assert.Throws<InvalidDataException>(() => DeviceStateCodec.Decode(encoded[..length]));
                Assert.DoesNotContain('\n', ex.Message);
            }
        }
    }

    [Fact]
    public void DeviceStateCodec_should_answer_garbage_only_with_invalid_data()
    {
        var random = new Random(20261204);
        var valid = DeviceStateSamples.All.Concat(DeviceStateSamples.Sparse).Select(DeviceStateCodec.Encode).ToArray();
        var decodedSome = 0;
        for (var i = 0; i < 20_000; i++)
        {
            byte[] bytes;
            if (i % 2 == 0)
            {
                // Random bytes behind a valid tag, so the decoders get past the first byte.
                bytes = new byte[random.Next(1, 300)];
                random.NextBytes(bytes);
                bytes[0] = (byte)random.Next(0, 12);
            }
            else
            {
                // A valid encoding with a few bytes changed: lengths, counts and flags that are nearly right.
                bytes = (byte[])valid[random.Next(valid.Length)].Clone();
                for (var flips = random.Next(1, 4); flips > 0; flips--)
                {
                    bytes[random.Next(bytes.Length)] = (byte)random.Next(256);
                }
            }

            try
            {
                DeviceStateCodec.Decode(bytes);
                decodedSome++;
            }
            catch (InvalidDataException ex)
            {
                Assert.DoesNotContain('\n', ex.Message);
            }
        }

        Assert.InRange(decodedSome, 1, 19_999);
    }

    [Fact]
    public void DeviceStateCodec_should_refuse_to_write_more_than_a_reader_accepts()
    {
        Assert.Throws<ArgumentException>(() => DeviceStateCodec.Encode(new byte[DeviceStateCodec.MaxBytes + 1]));
    }

    private static bool SameEncoding(object? a, object? b) =>
        DeviceStateCodec.Encode(a).AsSpan().SequenceEqual(DeviceStateCodec.Encode(b));

    private static void AssertEveryImplementationHasACase(Type contract, IEnumerable<Type> covered)
    {
        var implementations = _devices.GetTypes().Where(t => t is { IsClass: true, IsAbstract: false } && contract.IsAssignableFrom(t));
        var missing = implementations.Except(covered).Select(t => t.FullName).ToList();
        Assert.True(
            missing.Count == 0,
            $"{contract.Name} implementations without a snapshot case (add one to {nameof(SnapshotDeviceCases)}, and a codec if its state is new): {string.Join(", ", missing)}");
    }
}
