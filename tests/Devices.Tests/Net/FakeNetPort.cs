using System.Diagnostics.CodeAnalysis;
using ActorVmm.Devices.Net;

namespace ActorVmm.Devices.Tests.Net;

/// <summary>A port that records what the NIC sends and serves a bounded queue of frames for the guest.</summary>
internal sealed class FakeNetPort : INetPort
{
    private readonly Queue<byte[]> _toGuest = new();
    private readonly int _capacity;

    public FakeNetPort(int capacity = 256)
    {
        _capacity = capacity;
    }

    public List<byte[]> Sent { get; } = [];

    public int Dropped { get; private set; }

    public ulong GuestOffloads { get; private set; } = ulong.MaxValue;

    public int PendingFrames => _toGuest.Count;

    public Action? FrameArrived { get; set; }

    /// <summary>Queues a frame for the guest (dropped and counted when full) and says it arrived.</summary>
    public void Deliver(byte[] frame)
    {
        if (_toGuest.Count >= _capacity)
        {
            Dropped++;
        }
        else
        {
            _toGuest.Enqueue(frame);
        }

        FrameArrived?.Invoke();
    }

    public void Send(byte[] frame) => Sent.Add(frame);

    public bool TryReceive([NotNullWhen(true)] out byte[]? frame) => _toGuest.TryDequeue(out frame);

    public void SetGuestOffloads(ulong ackedFeatures) => GuestOffloads = ackedFeatures;
}
