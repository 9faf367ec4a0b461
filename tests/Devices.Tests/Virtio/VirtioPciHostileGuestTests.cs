using System.Buffers.Binary;
using ActorVmm.Devices.Pci;
using ActorVmm.Devices.Virtio;
using ActorVmm.Kvm.Memory;
using ActorVmm.TestSupport.Fakes;
using ActorVmm.TestSupport.Virtio;
using Xunit;
using static ActorVmm.TestSupport.Virtio.MockVirtqueue;

namespace ActorVmm.Devices.Tests.Virtio;

/// <summary>
/// The transport's side of issue #17's findings: kicks of any width only ask the queue's worker, a reset waits for a
/// running pass, a request whose serving throws is retried once and then failed, a failed restore tells the driver,
/// MSI-X routes are not rewritten per dword, console output goes to its sink in bounded pieces.
/// </summary>
public sealed class VirtioPciHostileGuestTests : IDisposable
{
    private const ulong BarAddress = 0xE000_8000;

    private readonly TestMemory _ram = new();
    private readonly RecordingInterruptLine _line = new();
    private readonly MockVirtqueue _queue;

    public VirtioPciHostileGuestTests()
    {
        _queue = new MockVirtqueue(_ram.Memory, TestMemory.RingBase(0), 16);
    }

    public void Dispose() => _ram.Dispose();

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(4)]
    [InlineData(8)]
    public void Notify_writes_of_every_width_should_ask_the_worker_and_serve_nothing_on_the_vcpu(int width)
    {
        var model = new ScriptedModel();
        var device = new VirtioPciDevice("t0", model, _ram.Memory, _line, BarAddress, 10);
        var kicks = new List<int>();
        device.QueueKickHandler = kicks.Add;
        new VirtioPciDriver(device).Initialize(_queue);
        kicks.Clear();
        _queue.AddChain(Buf.Writable(_ram.Allocate(16), 16));

        device.Write(VirtioPciDevice.NotifyOffsetOf(0), new byte[width]);

        Assert.Equal([0], kicks);
        Assert.Equal(0, _queue.UsedIdx);
        Assert.Equal(0, model.Served);
        Assert.True(QueueWorker.Pass(device, 0));
        Assert.Equal(1, _queue.UsedIdx);
    }

    [Fact]
    public void A_reset_written_while_a_pass_serves_should_take_effect_when_the_pass_ends()
    {
        var model = new ScriptedModel();
        var device = new VirtioPciDevice("t0", model, _ram.Memory, _line, BarAddress, 10) { QueueKickHandler = _ => { } };
        var driver = new VirtioPciDriver(device);
        driver.Initialize(_queue);
        _queue.AddChain(Buf.Writable(_ram.Allocate(16), 16));
        _queue.AddChain(Buf.Writable(_ram.Allocate(16), 16));
        Assert.True(device.TryBeginQueuePass(0));

        device.Write(0x14, [0]); // device_status = 0 while the worker is inside the device
        var statusDuringPass = driver.Status;
        device.Write(0x14, [(byte)VirtioDeviceStatus.Acknowledge]); // ignored: the reset is not done
        var result = device.RunQueuePass(0);
        device.EndQueuePass(0, result);

        Assert.NotEqual(0, statusDuringPass);
        Assert.Equal(0, driver.Status);
        Assert.Equal(0, model.Served); // quiesced before it popped anything
        Assert.False(device.PassRunning);
        Assert.False(device.GetQueueState(0).Ready);
    }

    [Fact]
    public void A_request_whose_serving_throws_should_be_retried_once_then_failed_never_lost_or_done_twice()
    {
        var model = new ScriptedModel { ThrowOnRequest = 0, ThrowTimes = int.MaxValue };
        var device = new VirtioPciDevice("t0", model, _ram.Memory, _line, BarAddress, 10);
        new VirtioPciDriver(device).Initialize(_queue);
        var first = _ram.Allocate(16);
        var second = _ram.Allocate(16);
        _queue.AddChain(Buf.Writable(first, 16));
        _queue.AddChain(Buf.Writable(second, 16));

        // First failure: the request is put back and the exception goes on (to the supervisor).
        Assert.Throws<InvalidOperationException>(() => QueueWorker.Pass(device, 0));
        Assert.Equal(0, _queue.UsedIdx);
        Assert.Equal(0, device.GetQueueState(0).NextAvail);

        // The restarted device sees the same request fail again: it completes as failed and the next one is served.
        var restarted = new VirtioPciDevice("t0", model, _ram.Memory, _line, BarAddress, 10);
        restarted.RestoreState(device.SaveState());

        Assert.Equal(2, _queue.UsedIdx);
        Assert.Equal(0xEE, _ram.ReadBytes(first, 16)[15]);
        Assert.Equal(0x00, _ram.ReadBytes(second, 16)[15]);
        Assert.Equal(1, restarted.Stats.FailedRequests);
        Assert.Equal(2, model.Attempts[0]);
        Assert.Equal(1, model.Attempts[1]);
    }

    [Fact]
    public void A_failed_restore_should_leave_the_device_needing_reset_with_a_config_interrupt()
    {
        var device = new VirtioPciDevice("t0", new ScriptedModel(), _ram.Memory, _line, BarAddress, 10);
        var driver = new VirtioPciDriver(device);
        driver.Initialize(_queue);
        var saved = (VirtioPciState)device.SaveState();
        var damaged = saved with { Queues = [] };

        var restarted = new VirtioPciDevice("t0", new ScriptedModel(), _ram.Memory, _line, BarAddress, 10);
        Assert.Throws<ArgumentException>(() => restarted.RestoreState(damaged));
        var fresh = new VirtioPciDevice("t0", new ScriptedModel(), _ram.Memory, _line, BarAddress, 10);
        fresh.RestoreFailed(damaged);
        var freshDriver = new VirtioPciDriver(fresh);

        Assert.Equal(saved.Status | (byte)VirtioDeviceStatus.DeviceNeedsReset, freshDriver.Status);
        Assert.True(_line.Level, "the configuration interrupt (INTx) should be raised");
        Assert.Equal(VirtioPciLayout.IsrConfig, (byte)(freshDriver.ReadIsr() & VirtioPciLayout.IsrConfig));

        // The driver's reset path recovers it.
        freshDriver.Initialize(_queue);
        _queue.AddChain(Buf.Writable(_ram.Allocate(16), 16));
        freshDriver.Notify(0);
        Assert.Equal((byte)(VirtioDeviceStatus.Acknowledge | VirtioDeviceStatus.Driver | VirtioDeviceStatus.FeaturesOk | VirtioDeviceStatus.DriverOk), freshDriver.Status);
        Assert.Equal(1, _queue.UsedIdx);
    }

    [Fact]
    public void Restore_should_ask_for_passes_instead_of_serving_queued_requests_itself()
    {
        var model = new ScriptedModel();
        var device = new VirtioPciDevice("t0", model, _ram.Memory, _line, BarAddress, 10) { QueueKickHandler = _ => { } };
        new VirtioPciDriver(device).Initialize(_queue);
        _queue.AddChain(Buf.Writable(_ram.Allocate(16), 16));
        var kicks = new List<int>();
        var restarted = new VirtioPciDevice("t0", model, _ram.Memory, _line, BarAddress, 10) { QueueKickHandler = kicks.Add };

        restarted.RestoreState(device.SaveState());

        Assert.Equal([0], kicks);
        Assert.Equal(0, model.Served);
        Assert.True(QueueWorker.Pass(restarted, 0));
        Assert.Equal(1, model.Served);
    }

    [Fact]
    public void Dwords_written_to_a_live_msix_entry_should_not_each_reprogram_its_route()
    {
        var msi = new CountingMsi(4);
        var device = new VirtioPciDevice("t0", new ScriptedModel(), _ram.Memory, _line, BarAddress, 10, msi: msi);
        var msix = device.Msix!;
        var control = device.Configuration.ReadWord(msix.CapabilityOffset + 2);
        device.WriteConfig(msix.CapabilityOffset + 2, BitConverter.GetBytes((ushort)(control | MsixCapability.ControlEnable)));
        var entry = VirtioPciLayout.MsixTableOffset;
        Span<byte> dword = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(dword, 0);
        device.Write(entry + 12, dword); // unmask vector 0
        var routesAfterUnmask = msi.Routes;

        for (uint i = 0; i < 10_000; i++)
        {
            BinaryPrimitives.WriteUInt32LittleEndian(dword, 0xFEE0_0000 | (i & 0xff) << 12);
            device.Write(entry, dword);
            BinaryPrimitives.WriteUInt32LittleEndian(dword, 0x4000 | (i & 0xff));
            device.Write(entry + 8, dword);
        }

        Assert.Equal(routesAfterUnmask, msi.Routes);
        msix.Notify(0);
        Assert.Equal(routesAfterUnmask + 1, msi.Routes);
        Assert.Equal(1, msi.Triggers);
    }

    [Fact]
    public void Console_transmit_of_a_huge_chain_should_reach_the_sink_in_bounded_pieces()
    {
        var pieces = new List<int>();
        var console = new VirtioConsoleDevice(bytes => pieces.Add(bytes.Length));
        var device = new VirtioPciDevice("hvc0", console, _ram.Memory, _line, BarAddress, 10);
        var rx = new MockVirtqueue(_ram.Memory, TestMemory.RingBase(0), 16);
        var tx = new MockVirtqueue(_ram.Memory, TestMemory.RingBase(1), 16);
        var driver = new VirtioPciDriver(device);
        driver.Initialize(rx, tx);
        const uint length = 1 << 20;
        tx.AddChain(Buf.Readable(_ram.Allocate(length), length));

        driver.Notify(VirtioConsoleDevice.TransmitQueue);

        Assert.Equal((int)length, pieces.Sum());
        Assert.All(pieces, p => Assert.True(p <= VirtioConsoleDevice.MaxOutputChunk));
        Assert.Equal(1, tx.UsedIdx);
    }

    /// <summary>Serves one chain at a time (status byte 0 at its end); may throw after popping a given request.</summary>
    private sealed class ScriptedModel : IVirtioDevice
    {
        public int? ThrowOnRequest { get; init; }

        public int ThrowTimes { get; init; }

        public int Served { get; private set; }

        public Dictionary<int, int> Attempts { get; } = [];

        public ushort DeviceType => VirtioDeviceType.Rng;

        public ulong AvailableFeatures => VirtioFeatures.TransportDefault;

        public int QueueCount => 1;

        public ushort MaxQueueSize => 16;

        public int ConfigSize => 0;

        public void ReadConfig(ulong offset, Span<byte> data) => data.Clear();

        public void WriteConfig(ulong offset, ReadOnlySpan<byte> data)
        {
        }

        public void Activate(VirtioContext context)
        {
        }

        public bool ProcessQueue(int index, Virtqueue queue, GuestMemory memory)
        {
            var added = false;
            while (queue.TryPop(memory) is { } chain)
            {
                var request = (ushort)(queue.NextAvail - 1);
                Attempts[request] = Attempts.GetValueOrDefault(request) + 1;
                if (request == ThrowOnRequest && Attempts[request] <= ThrowTimes)
                {
                    throw new InvalidOperationException("serving failed for a host reason");
                }

                chain.Write(memory, chain.WritableLength - 1, [0]);
                queue.AddUsed(memory, chain.HeadIndex, 1);
                Served++;
                added = true;
            }

            return added;
        }

        public uint FailRequest(DescriptorChain chain, GuestMemory memory) =>
            (uint)chain.Write(memory, chain.WritableLength - 1, [0xEE]);

        public void Reset()
        {
        }

        public object? SaveDeviceState() => null;

        public void RestoreDeviceState(object? state)
        {
        }
    }

    private sealed class CountingMsi(int vectors) : IMsiInterrupts
    {
        public int VectorCount => vectors;

        public int Routes { get; private set; }

        public int Triggers { get; private set; }

        public bool SetMessage(int vector, MsiMessage message)
        {
            Routes++;
            return true;
        }

        public void ClearMessage(int vector)
        {
        }

        public void Trigger(int vector) => Triggers++;
    }
}
