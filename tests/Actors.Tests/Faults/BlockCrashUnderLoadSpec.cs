using ActorVmm.Actors.Endpoints;
using ActorVmm.Actors.Faults;
using ActorVmm.Actors.Settings;
using ActorVmm.Actors.Supervision;
using ActorVmm.Actors.Virtio;
using ActorVmm.Devices;
using ActorVmm.Devices.Virtio;
using ActorVmm.Kvm.Memory;
using ActorVmm.TestSupport.Fakes;
using ActorVmm.TestSupport.Virtio;
using Akka.TestKit.Xunit2;
using Xunit;
using static ActorVmm.TestSupport.Virtio.MockVirtqueue;

namespace ActorVmm.Actors.Tests.Faults;

/// <summary>
/// The runtime as a VM runs a virtio-blk disk — endpoint, device actor under its supervisor, the disk's queue thread —
/// driven by a mock driver through the endpoint while a crash plan fires on requests. Issue #17 found the guest hung
/// when a crash hit while the restarted device re-served queued requests inside its constructor.
/// </summary>
public sealed class BlockCrashUnderLoadSpec : TestKit, IDisposable
{
    private const int Requests = 48;
    private readonly TestMemory _ram = new();
    private readonly string _image = Path.Combine(Path.GetTempPath(), $"actorvmm-crash-{Guid.NewGuid():N}.img");

    public BlockCrashUnderLoadSpec()
    {
        File.WriteAllBytes(_image, new byte[1 << 20]);
    }

    void IDisposable.Dispose()
    {
        _ram.Dispose();
        File.Delete(_image);
        base.Dispose();
    }

    [Theory]
    [InlineData("every=2")]
    [InlineData("every=3")]
    [InlineData("every=8")]
    [InlineData("p=0.3,seed=1")]
    [InlineData("p=0.5,seed=7")]
    [InlineData("p=0.5,seed=42")]
    public async Task Every_write_and_read_should_complete_intact_whatever_crash_trigger_fires(string trigger)
    {
        var injector = new FaultInjector([FaultPlan.Parse($"disk0:crash,{trigger}")]);
        using var workers = new QueueWorkers(_ram.Memory);
        var handle = workers.Add("disk0", 0, blocksOnHostIo: true);
        var endpoint = new DeviceEndpoint("disk0", DeviceSettings.Default, Sys.Log);
        VirtioBlockDevice? block = null;
        IBusDevice Factory()
        {
            block?.Dispose();
            block = new VirtioBlockDevice(_image);
            injector.AttachBlock("disk0", block);
            return new VirtioPciDevice("disk0", block, _ram.Memory, new RecordingInterruptLine(), 0xE000_0000, 10)
            {
                QueueKickHandler = _ => workers.Signal(handle),
            };
        }

        var supervision = SupervisionSettings.Default with { MaxRestarts = 10_000 };
        ChildActorOf(DeviceSupervisorActor.Props([new DeviceSupervisorProtocol.DeviceSpec(endpoint, Factory)], supervision, TestActor));
        ExpectMsg<DeviceSupervisorProtocol.Started>();
        workers.Start([endpoint]);
        var queue = new MockVirtqueue(_ram.Memory, TestMemory.RingBase(0), 128);
        var driver = new VirtioPciDriver(new EndpointBus(endpoint));
        driver.Initialize(queue);

        // Writes, then reads, in batches of 16 requests (48 descriptors: the ring's 128 are never reused while in
        // flight). Sector i gets bytes of value i; every request ends in a status byte the device sets to 0.
        var statuses = new List<GuestAddress>();
        var reads = new List<GuestAddress>();
        foreach (var write in new[] { true, false })
        {
            for (var batch = 0; batch < Requests; batch += 16)
            {
                for (var i = batch; i < batch + 16; i++)
                {
                    (write ? statuses : reads).Add(Submit(queue, write, (ulong)i, write ? (byte)i : (byte)0));
                    driver.Notify(0);
                }

                var expected = (ushort)((write ? 0 : Requests) + batch + 16);
                await AwaitConditionAsync(() => Task.FromResult(queue.UsedIdx == expected), TimeSpan.FromSeconds(30), TimeSpan.FromMilliseconds(10));
            }
        }

        var crashes = injector.Counters.Injected("disk0", FaultKind.Crash);
        Assert.True(crashes >= 2, $"only {crashes} crashes fired");
        // The supervisor counts a restart once the new instance is installed, which can come after a worker already
        // served the retried request on it: the count catches up, it must not stay behind.
        await AwaitConditionAsync(() => Task.FromResult(endpoint.Restarts == crashes), TimeSpan.FromSeconds(10), TimeSpan.FromMilliseconds(10));
        Assert.Equal(crashes, endpoint.Restarts);
        Assert.All(statuses, s => Assert.Equal(0, _ram.ReadBytes(s, 1)[0]));
        for (var i = 0; i < Requests; i++)
        {
            Assert.Equal(0, _ram.ReadBytes(reads[i], 513)[512]);
            Assert.All(_ram.ReadBytes(reads[i], 512), b => Assert.Equal((byte)i, b));
        }

        Assert.Equal(0, endpoint.ReadTimeouts);
    }

    [Fact]
    public async Task A_crash_plan_added_while_the_disk_runs_should_crash_its_next_requests_until_it_is_removed()
    {
        var injector = new FaultInjector([]);
        using var workers = new QueueWorkers(_ram.Memory);
        var handle = workers.Add("disk0", 0);
        var endpoint = new DeviceEndpoint("disk0", DeviceSettings.Default, Sys.Log);
        VirtioBlockDevice? block = null;
        IBusDevice Factory()
        {
            block?.Dispose();
            block = new VirtioBlockDevice(_image);
            injector.AttachBlock("disk0", block);
            return new VirtioPciDevice("disk0", block, _ram.Memory, new RecordingInterruptLine(), 0xE000_0000, 10)
            {
                QueueKickHandler = _ => workers.Signal(handle),
            };
        }

        var supervision = SupervisionSettings.Default with { MaxRestarts = 10_000 };
        ChildActorOf(DeviceSupervisorActor.Props([new DeviceSupervisorProtocol.DeviceSpec(endpoint, Factory)], supervision, TestActor));
        ExpectMsg<DeviceSupervisorProtocol.Started>();
        workers.Start([endpoint]);
        var queue = new MockVirtqueue(_ram.Memory, TestMemory.RingBase(0), 128);
        var driver = new VirtioPciDriver(new EndpointBus(endpoint));
        driver.Initialize(queue);
        injector.Validate(["disk0"]);
        var statuses = new List<GuestAddress>();
        async Task Batch(int first)
        {
            for (var i = first; i < first + 16; i++)
            {
                statuses.Add(Submit(queue, write: true, (ulong)i, (byte)i));
                driver.Notify(0);
            }

            await AwaitConditionAsync(() => Task.FromResult(queue.UsedIdx == first + 16), TimeSpan.FromSeconds(30), TimeSpan.FromMilliseconds(10));
        }

        await Batch(0);
        Assert.Equal(0, endpoint.Restarts);

        var id = injector.Add(FaultPlan.Parse("disk0:crash,every=3"));
        await Batch(16);
        var crashes = injector.Counters.Injected("disk0", FaultKind.Crash);

        Assert.True(injector.Remove(id));
        await Batch(32);

        // every=3 over 16 requests (retries exempt): the 3rd, 6th ... 15th.
        Assert.Equal(5, crashes);
        Assert.Equal(crashes, injector.Counters.Injected("disk0", FaultKind.Crash));
        Assert.Equal(crashes, endpoint.Restarts);
        Assert.Equal(crashes, injector.Counters.Retried("disk0"));
        Assert.All(statuses, s => Assert.Equal(0, _ram.ReadBytes(s, 1)[0]));
        Assert.Empty(injector.Active);
    }

    /// <summary>A 512-byte request of sector <paramref name="sector"/>; returns the address of its status byte.</summary>
    private GuestAddress Submit(MockVirtqueue queue, bool write, ulong sector, byte fill)
    {
        var header = _ram.Allocate(16);
        var headerBytes = new byte[16];
        BitConverter.TryWriteBytes(headerBytes.AsSpan(0, 4), write ? VirtioBlockDevice.RequestOut : VirtioBlockDevice.RequestIn);
        BitConverter.TryWriteBytes(headerBytes.AsSpan(8, 8), sector);
        _ram.Memory.Write(header, headerBytes);
        var data = _ram.Allocate(513);
        _ram.Memory.Write(data, Enumerable.Repeat(fill, 512).Append((byte)0xAA).ToArray());
        var status = data.CheckedAdd(512);
        queue.AddChain(
            Buf.Readable(header, 16),
            write ? Buf.Readable(data, 512) : Buf.Writable(data, 512),
            Buf.Writable(status, 1));
        return write ? status : data;
    }

    /// <summary>The mock driver's register accesses through the endpoint, as a vCPU's exits would go.</summary>
    private sealed class EndpointBus(DeviceEndpoint endpoint) : IBusDevice
    {
        public string Name => endpoint.Name;

        public void Read(ulong offset, Span<byte> data) => endpoint.Read(offset, data);

        public void Write(ulong offset, ReadOnlySpan<byte> data) => endpoint.Write(offset, data);
    }
}
