using ActorVmm.Devices.Net;
using ActorVmm.Kvm.Linux;
using ActorVmm.TestSupport.Net;
using Xunit;

namespace ActorVmm.Actors.Tests.Net;

/// <summary>TapDevice against a real TAP made for each spec (<see cref="ScratchTap"/>: root or CAP_NET_ADMIN).</summary>
public sealed class TapDeviceSpecs
{
    [Fact]
    public void IsUp_should_follow_the_interfaces_administrative_state()
    {
        using var scratch = new ScratchTap();
        using var tap = TapDevice.Open(scratch.Name);

        var up = tap.IsUp;
        ScratchTap.Ip($"link set {scratch.Name} down");

        Assert.True(up);
        Assert.False(tap.IsUp);
    }

    [Fact]
    public void A_tap_that_is_down_should_refuse_frames_without_throwing()
    {
        using var scratch = new ScratchTap();
        using var tap = TapDevice.Open(scratch.Name);
        ScratchTap.Ip($"link set {scratch.Name} down");

        var written = tap.TryWrite(NetTestFrames.ArpRequest(NetTestFrames.Guest, scratch.PeerAddress, scratch.HostAddress), out var errno);

        Assert.False(written);
        Assert.Equal(5, errno); // EIO
    }

    [Fact]
    public void Read_should_return_zero_when_no_frame_is_waiting()
    {
        using var scratch = new ScratchTap();
        using var tap = TapDevice.Open(scratch.Name);

        Assert.Equal(0, tap.Read(new byte[NetFrame.MaxSize]));
    }

    [Fact]
    public void A_multi_queue_tap_should_take_one_reader_per_open()
    {
        using var scratch = new ScratchTap(mode: "tap multi_queue");

        using var first = TapDevice.Open(scratch.Name);
        using var second = TapDevice.Open(scratch.Name);

        Assert.Equal(scratch.Name, second.Name);
    }
}
