using ActorVmm.Devices.Virtio;
using ActorVmm.TestSupport.Fakes;
using ActorVmm.TestSupport.Virtio;
using Xunit;
using static ActorVmm.TestSupport.Virtio.MockVirtqueue;

namespace ActorVmm.Devices.Tests.Virtio;

public sealed class VirtioRngDeviceTests : IDisposable
{
    private readonly TestMemory _ram = new();
    private readonly MockVirtqueue _queue;
    private readonly RecordingInterruptLine _line = new();

    public VirtioRngDeviceTests()
    {
        _queue = new MockVirtqueue(_ram.Memory, TestMemory.RingBase(0), 64);
    }

    public void Dispose() => _ram.Dispose();

    [Fact]
    public void Rng_should_fill_every_writable_buffer_with_random_bytes()
    {
        using var rng = new VirtioRngDevice();
        var driver = Attach(rng);
        var a = _ram.Allocate(256);
        var b = _ram.Allocate(256);
        _queue.AddChain(Buf.Writable(a, 256));
        _queue.AddChain(Buf.Writable(b, 128), Buf.Writable(new Kvm.Memory.GuestAddress(b.Value + 128), 128));

        driver.Notify(0);

        Assert.Equal(2, _queue.UsedIdx);
        Assert.Equal(256u, _queue.ReadUsed(0).Length);
        Assert.Equal(256u, _queue.ReadUsed(1).Length);
        var first = _ram.ReadBytes(a, 256);
        var second = _ram.ReadBytes(b, 256);
        Assert.True(first.Distinct().Count() > 64);
        Assert.NotEqual(first, second);
        Assert.Equal(512, rng.BytesServed);
        Assert.True(_line.Level);
    }

    [Fact]
    public void Rng_should_complete_a_read_only_request_empty_and_count_it()
    {
        using var rng = new VirtioRngDevice();
        var driver = Attach(rng, out var device);
        _queue.AddChain(Buf.Readable(_ram.Allocate(16), 16));

        driver.Notify(0);

        Assert.Equal((0u, 0u), _queue.ReadUsed(0));
        Assert.Equal(1, device.Stats.GuestErrors);
    }

    [Fact]
    public void Rate_limited_rng_should_hand_out_only_the_bucket_and_resume_when_it_refills()
    {
        var time = new ManualTimeProvider();
        using var rng = new VirtioRngDevice(bytesPerSecond: 100, burstBytes: 100, time: time);
        var driver = Attach(rng);
        _queue.AddChain(Buf.Writable(_ram.Allocate(64), 64));
        _queue.AddChain(Buf.Writable(_ram.Allocate(64), 64));
        _queue.AddChain(Buf.Writable(_ram.Allocate(64), 64));

        driver.Notify(0);
        var usedBeforeRefill = _queue.UsedIdx;
        var timers = time.ActiveTimers;
        time.Advance(TimeSpan.FromSeconds(1));

        Assert.Equal(2, usedBeforeRefill);
        Assert.Equal(64u, _queue.ReadUsed(0).Length);
        Assert.Equal(36u, _queue.ReadUsed(1).Length);
        Assert.Equal(1, timers);
        Assert.Equal(3, _queue.UsedIdx);
        Assert.Equal(64u, _queue.ReadUsed(2).Length);
    }

    [Fact]
    public void Token_bucket_should_refill_at_its_rate_up_to_capacity()
    {
        var time = new ManualTimeProvider();
        var bucket = new TokenBucket(1000, 500, time);

        var first = bucket.Take(800);
        var empty = bucket.Take(1);
        time.Advance(TimeSpan.FromMilliseconds(100));
        var refilled = bucket.Take(1000);
        time.Advance(TimeSpan.FromSeconds(10));
        var capped = bucket.Take(10_000);

        Assert.Equal(500, first);
        Assert.Equal(0, empty);
        Assert.Equal(100, refilled);
        Assert.Equal(500, capped);
    }

    private VirtioPciDriver Attach(VirtioRngDevice rng) => Attach(rng, out _);

    private VirtioPciDriver Attach(VirtioRngDevice rng, out VirtioPciDevice device)
    {
        device = new VirtioPciDevice("rng0", rng, _ram.Memory, _line, 0xE000_0000, 10);
        var driver = new VirtioPciDriver(device);
        driver.Initialize(_queue);
        return driver;
    }
}
