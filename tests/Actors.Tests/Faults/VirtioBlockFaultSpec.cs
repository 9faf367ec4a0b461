using System.Buffers.Binary;
using ActorVmm.Actors;
using ActorVmm.Actors.Endpoints;
using ActorVmm.Actors.Faults;
using ActorVmm.Actors.Settings;
using ActorVmm.Actors.Supervision;
using ActorVmm.Devices.Virtio;
using ActorVmm.Host.Settings;
using ActorVmm.Kvm.Memory;
using ActorVmm.TestSupport.Fakes;
using ActorVmm.TestSupport.Virtio;
using Akka.TestKit.Xunit2;
using Xunit;
using static ActorVmm.TestSupport.Virtio.MockVirtqueue;

namespace ActorVmm.Actors.Tests.Faults;

/// <summary>
/// virtio-blk under injected faults: a real <see cref="VirtioPciDevice"/> + <see cref="VirtioBlockDevice"/> on a temp
/// image, behind a real endpoint and device supervisor, driven by the mock guest driver.
/// </summary>
public sealed class VirtioBlockFaultSpec : TestKit, IDisposable
{
    private const int Sectors = 64;
    private readonly TestMemory _ram = new();
    private readonly RecordingInterruptLine _line = new();
    private readonly string _image = Path.Combine(Path.GetTempPath(), $"actorvmm-faults-{Guid.NewGuid():N}.img");
    private VirtioBlockDevice _block = null!;
    private MockVirtqueue _queue = null!;
    private VirtioPciDriver _driver = null!;
    private DeviceEndpoint _endpoint = null!;
    private FaultInjector _injector = null!;

    public VirtioBlockFaultSpec()
    {
        File.WriteAllBytes(_image, new byte[Sectors * 512]);
    }

    void IDisposable.Dispose()
    {
        Shutdown();
        _block?.Dispose();
        _ram.Dispose();
        File.Delete(_image);
    }

    private static SupervisionSettings Supervision(int maxRestarts = 10, BudgetExceededPolicy policy = BudgetExceededPolicy.StopVm) =>
        new(maxRestarts, TimeSpan.FromMinutes(1), RestartStateSource.Saved, policy, new Dictionary<string, SupervisionAction> { ["default"] = SupervisionAction.Restart });

    private void Start(string spec, SupervisionSettings? supervision = null)
    {
        _injector = new FaultInjector([FaultPlan.Parse(spec)]);
        _block = new VirtioBlockDevice(_image);
        _injector.AttachBlock("disk0", _block);
        var blueprint = _injector.Wrap(new ActorVmm.Actors.Vm.DeviceBlueprint(
            "disk0",
            ctx => new VirtioPciDevice("disk0", _block, _ram.Memory, _line, 0xE000_0000, 5),
            [ActorVmm.Actors.Bus.BusRange.Mmio(0xE000_0000, VirtioPciLayout.BarSize)]));
        _injector.Validate(["disk0"]);
        _endpoint = new DeviceEndpoint("disk0", new DeviceSettings(TimeSpan.FromSeconds(30)), Sys.Log, blueprint.Inline);
        var context = new ActorVmm.Actors.Vm.DeviceContext("disk0", _line, null!);
        ChildActorOf(DeviceSupervisorActor.Props([new DeviceSupervisorProtocol.DeviceSpec(_endpoint, () => blueprint.Factory(context), _line)], supervision ?? Supervision(), TestActor));
        ExpectMsg<DeviceSupervisorProtocol.Started>();
        _driver = new VirtioPciDriver(new EndpointBus(_endpoint));
        _queue = new MockVirtqueue(_ram.Memory, TestMemory.RingBase(0), 16);
        _driver.Initialize(_queue);
    }

    /// <summary>Posts one request and notifies; returns where its status byte will land.</summary>
    private GuestAddress Submit(uint type, ulong sector, GuestAddress data)
    {
        var header = _ram.Allocate(16);
        Span<byte> raw = stackalloc byte[16];
        raw.Clear();
        BinaryPrimitives.WriteUInt32LittleEndian(raw, type);
        BinaryPrimitives.WriteUInt64LittleEndian(raw[8..], sector);
        _ram.Memory.Write(header, raw);
        var status = _ram.Allocate(1);
        _ram.Memory.Write(status, (byte)0xEE);
        var dataBuf = type == VirtioBlockDevice.RequestOut ? Buf.Readable(data, 512) : Buf.Writable(data, 512);
        _queue.AddChain(Buf.Readable(header, 16), dataBuf, Buf.Writable(status, 1));
        _driver.Notify(0);
        return status;
    }

    private GuestAddress Pattern(byte value) => _ram.AllocateFilled(Enumerable.Repeat(value, 512).ToArray());

    /// <summary>Reads a sector back through the disk (the image is locked by the device), as the guest would.</summary>
    private byte[] SectorOnDisk(int sector)
    {
        var before = _queue.UsedIdx;
        var data = _ram.Allocate(512);
        var status = Submit(VirtioBlockDevice.RequestIn, (ulong)sector, data);
        AwaitCondition(() => _queue.UsedIdx != before);
        Assert.Equal(VirtioBlockDevice.StatusOk, _ram.Memory.Read<byte>(status));
        return _ram.ReadBytes(data, 512);
    }

    private (ulong Desc, ulong Avail, ulong Used, ushort Size) QueueRegisters()
    {
        _driver.Write16(0x16, 0);
        return (_driver.Read64(0x20), _driver.Read64(0x28), _driver.Read64(0x30), _driver.Read16(0x18));
    }

    [Fact]
    public void A_crash_should_restart_the_disk_with_its_state_and_retry_the_in_flight_write_exactly_once()
    {
        Start("disk0:crash,every=2");
        var features = _driver.ReadDeviceFeatures() & _endpointDriverFeatures();
        var queueBefore = QueueRegisters();

        var first = Submit(VirtioBlockDevice.RequestOut, 1, Pattern(0xA1));
        var second = Submit(VirtioBlockDevice.RequestOut, 2, Pattern(0xB2));
        AwaitCondition(() => _queue.UsedIdx == 2);

        // Both writes completed OK, each exactly once (two used entries, two distinct heads), the second after a restart.
        Assert.Equal(1, _endpoint.Restarts);
        Assert.Equal(1, _injector.Counters.Injected("disk0", FaultKind.Crash));
        Assert.Equal(1, _injector.Counters.Retried("disk0"));
        Assert.Equal(VirtioBlockDevice.StatusOk, _ram.Memory.Read<byte>(first));
        Assert.Equal(VirtioBlockDevice.StatusOk, _ram.Memory.Read<byte>(second));
        Assert.NotEqual(_queue.ReadUsed(0).Id, _queue.ReadUsed(1).Id);
        Assert.All(SectorOnDisk(1), b => Assert.Equal(0xA1, b));
        Assert.All(SectorOnDisk(2), b => Assert.Equal(0xB2, b));

        // What the guest configured survived: status (DRIVER_OK, no NEEDS_RESET), features, queue addresses.
        Assert.Equal(0x0F, _driver.Status);
        Assert.Equal(features, _driver.ReadDeviceFeatures() & _endpointDriverFeatures());
        Assert.Equal(queueBefore, QueueRegisters());
        Assert.Equal(VirtioBlockDevice.StatusOk, _ram.Memory.Read<byte>(second));
    }

    private ulong _endpointDriverFeatures()
    {
        _driver.Write32(0x08, 0);
        var lo = _driver.Read32(0x0C);
        _driver.Write32(0x08, 1);
        return ((ulong)_driver.Read32(0x0C) << 32) | lo;
    }

    [Fact]
    public void The_retried_request_should_not_count_toward_every_N()
    {
        Start("disk0:crash,every=2");

        for (var i = 0; i < 4; i++)
        {
            Submit(VirtioBlockDevice.RequestOut, (ulong)i, Pattern((byte)(0x10 + i)));
            var expected = i + 1;
            AwaitCondition(() => _queue.UsedIdx == expected);
        }

        // Requests 2 and 4 crash; the retry of 2 is not the "3rd" request.
        Assert.Equal(2, _endpoint.Restarts);
        Assert.Equal(2, _injector.Counters.Retried("disk0"));
        for (var i = 0; i < 4; i++)
        {
            Assert.All(SectorOnDisk(i), b => Assert.Equal(0x10 + i, b));
        }
    }

    [Fact]
    public void An_io_error_should_complete_the_request_with_IOERR_and_leave_the_device_running()
    {
        Start("disk0:io-error,every=2");

        var ok = Submit(VirtioBlockDevice.RequestIn, 0, _ram.Allocate(512));
        AwaitCondition(() => _queue.UsedIdx == 1);
        var failed = Submit(VirtioBlockDevice.RequestOut, 3, Pattern(0x77));
        AwaitCondition(() => _queue.UsedIdx == 2);

        Assert.Equal(VirtioBlockDevice.StatusOk, _ram.Memory.Read<byte>(ok));
        Assert.Equal(VirtioBlockDevice.StatusIoError, _ram.Memory.Read<byte>(failed));
        Assert.All(SectorOnDisk(3), b => Assert.Equal(0, b));
        Assert.Equal(0, _endpoint.Restarts);
        Assert.Equal(1, _injector.Counters.Injected("disk0", FaultKind.IoError));
    }

    [Fact]
    public void Over_its_budget_with_stop_device_the_disk_should_show_DEVICE_NEEDS_RESET_with_a_config_interrupt()
    {
        Start("disk0:crash", Supervision(maxRestarts: 1, BudgetExceededPolicy.StopDevice));

        Submit(VirtioBlockDevice.RequestOut, 1, Pattern(1));
        AwaitCondition(() => _queue.UsedIdx == 1);
        _driver.ReadIsr();
        Assert.False(_line.Level);
        Submit(VirtioBlockDevice.RequestOut, 2, Pattern(2));
        AwaitCondition(() => _endpoint.IsFailStopped);

        Assert.Equal(1, _endpoint.Restarts);
        Assert.NotEqual(0, _driver.Status & 0x40);
        Assert.True(_line.Level);
        Assert.NotEqual(0, _driver.ReadIsr() & VirtioPciLayout.IsrConfig);
        Assert.False(_line.Level);
        Assert.Equal((ushort)1, _queue.UsedIdx);
        Assert.Contains("fail-stopped (DEVICE_NEEDS_RESET)", FaultSummary.Format(_injector.Counters, [_endpoint]));
    }

    [Fact]
    public void Over_its_budget_with_stop_vm_the_supervisor_should_ask_the_VM_to_stop_with_a_reason()
    {
        Start("disk0:crash", Supervision(maxRestarts: 0));

        Submit(VirtioBlockDevice.RequestOut, 1, Pattern(1));

        var failed = ExpectMsg<DeviceSupervisorProtocol.DeviceFailed>();
        Assert.Equal("disk0", failed.Device);
        Assert.Equal(ActorVmm.Actors.VmStopReasonKind.DeviceFailure, failed.Reason.Kind);
        Assert.Contains("InjectedDeviceFault", failed.Reason.Message);
    }
}
