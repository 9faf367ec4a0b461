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
/// Buffers a driver can wait on forever with MSI-X (no ISR read holds the driver back while the device works):
/// buffers added while the device was still in its passes over the queue, and buffers a crashed device instance
/// completed but never signalled.
/// </summary>
public sealed class VirtioPciLostInterruptTests : IDisposable
{
    private const ulong BarAddress = 0xE000_8000;
    private const ulong Apic = 0xFEE0_0000;
    private const ushort QueueVector = 1;

    private readonly TestMemory _ram = new();
    private readonly RecordingInterruptLine _line = new();
    private readonly MockVirtqueue _queue;

    public VirtioPciLostInterruptTests()
    {
        _queue = new MockVirtqueue(_ram.Memory, TestMemory.RingBase(0), 64);
    }

    public void Dispose() => _ram.Dispose();

    [Fact]
    public void A_driver_that_answers_each_interrupt_before_the_device_looks_again_should_still_get_every_buffer_served()
    {
        // Like Linux with EVENT_IDX and synchronous I/O: on each queue interrupt the driver consumes the used entry,
        // asks for an interrupt at the next one, adds its next request and kicks only if avail_event says so — and
        // avail_event is still the old one, because the device has not looked again yet.
        const int total = 12;
        var kicks = new Queue<int>();
        var added = 1;
        var msi = new CallbackMsi(2, vector =>
        {
            if (vector != QueueVector || added >= total)
            {
                return;
            }

            _queue.SetUsedEvent(_queue.UsedIdx);
            var old = _queue.AvailIdx;
            _queue.AddChain(Buf.Writable(_ram.Allocate(16), 16));
            added++;
            if (NeedEvent(_queue.AvailEvent, _queue.AvailIdx, old))
            {
                kicks.Enqueue(0);
            }
        });
        using var rng = new VirtioRngDevice();
        var device = new VirtioPciDevice("rng0", rng, _ram.Memory, _line, BarAddress, irq: 10, msi: msi)
        {
            QueueKickHandler = kicks.Enqueue,
        };
        BringUpWithMsix(device, eventIdx: true);
        _queue.AddChain(Buf.Writable(_ram.Allocate(16), 16));

        device.NotifyQueue(0);
        for (var i = 0; i < 100 && kicks.TryDequeue(out var q); i++)
        {
            QueueWorker.Pass(device, q);
        }

        Assert.Equal(total, added);
        Assert.Equal(total, _queue.UsedIdx);
        Assert.Equal(total, msi.Sent(QueueVector));
    }

    [Fact]
    public void Buffers_a_crashed_instance_completed_should_be_signalled_by_the_restored_one()
    {
        var msi = new CallbackMsi(2, _ => { });
        var crashing = new OneChainModel();
        var device = new VirtioPciDevice("dev0", crashing, _ram.Memory, _line, BarAddress, irq: 10, msi: msi);
        BringUpWithMsix(device, eventIdx: true);
        _queue.AddChain(Buf.Writable(_ram.Allocate(16), 16));
        device.NotifyQueue(0);
        _queue.SetUsedEvent(_queue.UsedIdx); // the driver wants an interrupt for the next used entry
        var signalledBefore = msi.Sent(QueueVector);

        crashing.CrashAfterCompleting = true;
        _queue.AddChain(Buf.Writable(_ram.Allocate(16), 16));
        Assert.Throws<InvalidOperationException>(() => device.NotifyQueue(0));
        var saved = device.SaveState();
        var restarted = new VirtioPciDevice("dev0", new OneChainModel(), _ram.Memory, _line, BarAddress, irq: 10, msi: msi);
        restarted.RestoreState(saved);

        Assert.Equal(1, signalledBefore);
        Assert.Equal(2, _queue.UsedIdx);
        Assert.Equal(2, msi.Sent(QueueVector));
        Assert.Equal(0, _line.Raised);
    }

    [Fact]
    public void A_restored_queue_with_nothing_new_used_should_not_interrupt()
    {
        var msi = new CallbackMsi(2, _ => { });
        var device = new VirtioPciDevice("dev0", new OneChainModel(), _ram.Memory, _line, BarAddress, irq: 10, msi: msi);
        BringUpWithMsix(device, eventIdx: true);
        _queue.AddChain(Buf.Writable(_ram.Allocate(16), 16));
        device.NotifyQueue(0);
        _queue.SetUsedEvent(_queue.UsedIdx);

        var restarted = new VirtioPciDevice("dev0", new OneChainModel(), _ram.Memory, _line, BarAddress, irq: 10, msi: msi);
        restarted.RestoreState(device.SaveState());

        Assert.Equal(1, msi.Sent(QueueVector));
    }

    /// <summary>vring_need_event: the driver kicks when the new avail index passed avail_event.</summary>
    private static bool NeedEvent(ushort eventIdx, ushort newIdx, ushort oldIdx) =>
        (ushort)(newIdx - eventIdx - 1) < (ushort)(newIdx - oldIdx);

    private void BringUpWithMsix(VirtioPciDevice device, bool eventIdx)
    {
        var driver = new VirtioPciDriver(device);
        Span<byte> control = stackalloc byte[2];
        BinaryPrimitives.WriteUInt16LittleEndian(control, MsixCapability.ControlEnable);
        device.WriteConfig(device.Msix!.CapabilityOffset + 2, control);
        for (var v = 0; v < 2; v++)
        {
            var entry = VirtioPciLayout.MsixTableOffset + ((ulong)v * 16);
            driver.Write32(entry, (uint)Apic);
            driver.Write32(entry + 4, 0);
            driver.Write32(entry + 8, 0x40 + (uint)v);
            driver.Write32(entry + 12, 0);
        }

        var features = driver.ReadDeviceFeatures();
        Assert.NotEqual(0UL, features & VirtioFeatures.RingEventIdx);
        Assert.True(driver.Negotiate(eventIdx ? features : features & ~VirtioFeatures.RingEventIdx));
        driver.Write16(0x10, 0);
        driver.SetupQueue(0, _queue);
        driver.Write16(0x16, 0);
        driver.Write16(0x1A, QueueVector);
        driver.AddStatus(VirtioDeviceStatus.DriverOk);
    }

    /// <summary>MSI vectors that call back on every trigger (the driver's interrupt handler).</summary>
    private sealed class CallbackMsi(int vectors, Action<int> onTrigger) : IMsiInterrupts
    {
        private readonly int[] _sent = new int[vectors];

        public int VectorCount => vectors;

        public int Sent(int vector) => _sent[vector];

        public bool SetMessage(int vector, MsiMessage message) => true;

        public void ClearMessage(int vector)
        {
        }

        public void Trigger(int vector)
        {
            _sent[vector]++;
            onTrigger(vector);
        }
    }

    /// <summary>
    /// A device that completes every available chain (length 0); with <see cref="CrashAfterCompleting"/> it throws
    /// a host fault right after completing the first one, before the transport could signal it.
    /// </summary>
    private sealed class OneChainModel : IVirtioDevice
    {
        public bool CrashAfterCompleting { get; set; }

        public ushort DeviceType => VirtioDeviceType.Rng;

        public ulong AvailableFeatures => VirtioFeatures.TransportDefault;

        public int QueueCount => 1;

        public ushort MaxQueueSize => 64;

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
                queue.AddUsed(memory, chain.HeadIndex, 0);
                added = true;
                if (CrashAfterCompleting)
                {
                    throw new InvalidOperationException("host fault after completing a request");
                }
            }

            return added;
        }

        public void Reset()
        {
        }

        public object? SaveDeviceState() => null;

        public void RestoreDeviceState(object? state)
        {
        }
    }
}
