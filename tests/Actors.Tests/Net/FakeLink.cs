using System.Buffers.Binary;
using ActorVmm.Actors.Net;
using ActorVmm.Devices.Net;

namespace ActorVmm.Actors.Tests.Net;

/// <summary>An <see cref="INetLink"/> that records what is sent (and when, by <see cref="Clock"/>) and lets a test deliver frames.</summary>
internal sealed class FakeLink(TimeProvider? clock = null) : INetLink
{
    private readonly Lock _sync = new();
    private readonly List<(byte[] Frame, long At)> _sent = [];
    private Action<byte[]>? _deliver;

    public TimeProvider Clock { get; } = clock ?? TimeProvider.System;

    public string Description => "fake";

    public long Dropped => 0;

    public bool Disposed { get; private set; }

    public ulong Offloads { get; private set; }

    public IReadOnlyList<byte[]> Sent
    {
        get
        {
            lock (_sync)
            {
                return _sent.Select(s => s.Frame).ToList();
            }
        }
    }

    public IReadOnlyList<(byte[] Frame, long At)> SentAt
    {
        get
        {
            lock (_sync)
            {
                return [.. _sent];
            }
        }
    }

    public int Count
    {
        get
        {
            lock (_sync)
            {
                return _sent.Count;
            }
        }
    }

    public void Start(Action<byte[]> deliver) => _deliver = deliver;

    public void Send(byte[] frame)
    {
        lock (_sync)
        {
            _sent.Add((frame, Clock.GetTimestamp()));
        }
    }

    public void SetGuestOffloads(ulong ackedFeatures) => Offloads = ackedFeatures;

    /// <summary>A frame from the network toward the port.</summary>
    public void Deliver(byte[] frame) => _deliver!(frame);

    public void Dispose() => Disposed = true;
}

/// <summary>Frames for tests: a zeroed virtio header, Ethernet addresses, EtherType 0x88B5 and a sequence number.</summary>
internal static class Frames
{
    public static MacAddress Mac(int n) => new([0x52, 0x54, 0x00, 0x00, 0x00, (byte)n]);

    public static byte[] Make(MacAddress destination, MacAddress source, int sequence = 0, int payload = 46)
    {
        var frame = new byte[NetFrame.HeaderSize + NetFrame.EthernetHeaderSize + Math.Max(payload, 4)];
        destination.CopyTo(frame.AsSpan(NetFrame.HeaderSize));
        source.CopyTo(frame.AsSpan(NetFrame.HeaderSize + 6));
        frame[NetFrame.HeaderSize + 12] = 0x88;
        frame[NetFrame.HeaderSize + 13] = 0xB5;
        BinaryPrimitives.WriteInt32BigEndian(frame.AsSpan(NetFrame.HeaderSize + NetFrame.EthernetHeaderSize), sequence);
        return frame;
    }

    public static int Sequence(byte[] frame) => BinaryPrimitives.ReadInt32BigEndian(frame.AsSpan(NetFrame.HeaderSize + NetFrame.EthernetHeaderSize));
}
