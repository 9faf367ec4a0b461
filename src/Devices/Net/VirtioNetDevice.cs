using System.Buffers.Binary;
using ActorVmm.Devices.Virtio;
using ActorVmm.Kvm.Memory;

namespace ActorVmm.Devices.Net;

/// <summary>
/// virtio-net (device id 1) with one queue pair: queue 0 (receiveq) carries frames from the <see cref="INetPort"/> to
/// the guest, queue 1 (transmitq) the guest's frames to the port. Offers checksum and TCP segmentation offload both
/// ways and merged receive buffers, like Firecracker; frames toward a driver that declined an offload are finished in
/// software (<see cref="NetOffload"/>). The device holds at most one port frame (its segments) the guest had no room
/// for yet; everything else waits in the port, which bounds and counts. Counters are read lock-free from any thread.
/// </summary>
public sealed partial class VirtioNetDevice : IVirtioDevice
{
    public const int ReceiveQueue = 0;
    public const int TransmitQueue = 1;

    /// <summary>VIRTIO_NET_S_LINK_UP in the config space's status.</summary>
    public const ushort StatusLinkUp = 1;

    /// <summary>Bytes of config space: mac[6], status, max_virtqueue_pairs, mtu.</summary>
    private const int ConfigLength = 12;

    /// <summary>Smallest MTU accepted (IPv4's minimum).</summary>
    private const ushort MinMtu = 68;

    private readonly INetPort _port;
    private readonly MacAddress _mac;
    private readonly Action _frameArrived;
    private volatile VirtioContext? _context;
    private ulong _acked;
    private long _ignoredConfigWrites;

    /// <param name="port">The network side; outlives this instance (a restarted device takes it over).</param>
    /// <param name="mac">The address the guest reads from config space.</param>
    /// <param name="mtu">The MTU the guest reads (VIRTIO_NET_F_MTU); frames longer than it (without TSO) are dropped.</param>
    /// <param name="queueSize">Largest ring size per queue (a power of two).</param>
    public VirtioNetDevice(INetPort port, MacAddress mac, ushort mtu = 1500, ushort queueSize = 256)
    {
        ArgumentNullException.ThrowIfNull(port);
        ArgumentOutOfRangeException.ThrowIfLessThan(mtu, MinMtu);
        ArgumentOutOfRangeException.ThrowIfZero(queueSize);
        _port = port;
        _mac = mac;
        Mtu = mtu;
        MaxQueueSize = queueSize;
        _frameArrived = OnFrameArrived;
    }

    public ushort DeviceType => VirtioDeviceType.Net;

    public ulong AvailableFeatures => VirtioNetFeatures.Offered | VirtioFeatures.TransportDefault;

    public int QueueCount => 2;

    public ushort MaxQueueSize { get; }

    public int ConfigSize => ConfigLength;

    public MacAddress Mac => _mac;

    public ushort Mtu { get; }

    /// <summary>The features the driver accepted (0 before activation and after a reset).</summary>
    public ulong AckedFeatures => Interlocked.Read(ref _acked);

    /// <summary>Driver writes to the (read-only) config space, ignored.</summary>
    public long IgnoredConfigWrites => Interlocked.Read(ref _ignoredConfigWrites);

    public void ReadConfig(ulong offset, Span<byte> data)
    {
        Span<byte> config = stackalloc byte[ConfigLength];
        _mac.CopyTo(config);
        BinaryPrimitives.WriteUInt16LittleEndian(config[6..], StatusLinkUp);
        BinaryPrimitives.WriteUInt16LittleEndian(config[8..], 1);
        BinaryPrimitives.WriteUInt16LittleEndian(config[10..], Mtu);
        config.Slice((int)offset, data.Length).CopyTo(data);
    }

    public void WriteConfig(ulong offset, ReadOnlySpan<byte> data)
    {
        // mac is writable only with VIRTIO_NET_F_CTRL_MAC_ADDR's legacy path, which is not offered.
        Interlocked.Increment(ref _ignoredConfigWrites);
    }

    public void Activate(VirtioContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        Interlocked.Exchange(ref _acked, context.AckedFeatures);
        _context = context;
        _port.SetGuestOffloads(context.AckedFeatures);
        _port.FrameArrived = _frameArrived;
    }

    public bool ProcessQueue(int index, Virtqueue queue, GuestMemory memory) => index switch
    {
        ReceiveQueue => Receive(queue, memory),
        TransmitQueue => Transmit(queue, memory),
        _ => false,
    };

    /// <summary>Stops asking for receive passes and drops the frame held for the guest (a reset NIC loses it).</summary>
    public void Reset()
    {
        _context = null;
        if (_port.FrameArrived == _frameArrived)
        {
            _port.FrameArrived = null;
        }

        _port.SetGuestOffloads(0);
        Interlocked.Exchange(ref _acked, 0);
        ClearHeld();
    }

    private void OnFrameArrived() => _context?.RequestProcessing(ReceiveQueue);
}
