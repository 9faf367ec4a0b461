using System.Collections.Immutable;
using ActorVmm.Devices.Acpi;
using ActorVmm.Devices.Legacy;
using ActorVmm.Devices.Pci;
using ActorVmm.Devices.Virtio;

namespace ActorVmm.Actors.Tests.Snapshots;

/// <summary>One value of every state type the codec knows, each field set to something other than its default.</summary>
internal static class DeviceStateSamples
{
    public static VirtqueueState Queue(ushort seed) =>
        new(
            Size: 128,
            Ready: true,
            DescTable: 0x1_0000_1000UL + seed,
            AvailRing: 0x2000UL + seed,
            UsedRing: 0x3000UL + seed,
            NextAvail: (ushort)(7 + seed),
            NextUsed: (ushort)(5 + seed),
            EventIdxEnabled: true,
            IndirectEnabled: true,
            SignalledUsed: 4,
            Broken: true)
        {
            FailedOnce = 6,
        };

    public static MsixState Msix => new([1, 2, 3, 0xFEE0_0000, 5, 6, 7, 8], [0x8000_0000_0000_0003]);

    public static VirtioPciState VirtioPci =>
        new(
            PciConfiguration: Pattern(256),
            DeviceFeatureSelect: 1,
            DriverFeatureSelect: 1,
            DriverFeatures: 0x1_3000_0000,
            Status: 0x0f,
            Isr: 1,
            ConfigGeneration: 3,
            QueueSelect: 1,
            Activated: true,
            Queues: [Queue(1), Queue(2)],
            DeviceState: new byte[] { 0x68, 0x69 },
            Msix: Msix,
            ConfigVector: 1,
            QueueVectors: [2, 3]);

    public static Serial16550State Serial =>
        new(0x0f, 0x03, 0x0b, 0x5a, 0x0c, 0x01, 0x01, 0x02, 0x0f, true, [0x61, 0x62]);

    public static I8042State I8042 =>
        new(0x47, 0x03, true, true, 0xd1, [0xfa, 0xab, 0x83], new SystemControlPortBState(0x03, true));

    public static CmosState Cmos => new(0x0f, true, ImmutableArray.Create(Pattern(128)));

    public static IReadOnlyList<object> All =>
    [
        new byte[] { 1, 2, 3 },
        Queue(0),
        Msix,
        VirtioPci,
        Serial,
        I8042,
        Cmos,
        new SystemControlPortBState(0x03, true),
        new PortSinkState(0x1234_5678, 3),
        new FastA20GateState(0x02),
        new AcpiPmState(0x0101, 0x0121, 0x1400),
    ];

    /// <summary>States with every optional part absent (null, empty), to cover the other branch of each.</summary>
    public static IReadOnlyList<object> Sparse =>
    [
        Array.Empty<byte>(),
        new VirtqueueState(0, false, 0, 0, 0, 0, 0, false, false, null, false),
        new MsixState([], []),
        new VirtioPciState(new byte[256], 0, 0, 0, 0, 0, 0, 0, false, [], null),
        new Serial16550State(0, 0, 0, 0, 0, 0, 0, 0, 0, false, []),
        new I8042State(0, 0, false, false, 0, [], new SystemControlPortBState(0, false)),
        new PortSinkState(null, 0),
    ];

    /// <summary>1, 2, … 255, 1, 2, …: no zero byte.</summary>
    public static byte[] Pattern(int length) => Enumerable.Range(0, length).Select(i => (byte)((i % 255) + 1)).ToArray();
}
