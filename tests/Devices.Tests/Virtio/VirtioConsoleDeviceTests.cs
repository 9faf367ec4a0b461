using System.Text;
using ActorVmm.Devices.Virtio;
using ActorVmm.TestSupport.Fakes;
using ActorVmm.TestSupport.Virtio;
using Xunit;
using static ActorVmm.TestSupport.Virtio.MockVirtqueue;

namespace ActorVmm.Devices.Tests.Virtio;

public sealed class VirtioConsoleDeviceTests : IDisposable
{
    private readonly TestMemory _ram = new();
    private readonly MockVirtqueue _rx;
    private readonly MockVirtqueue _tx;
    private readonly RecordingInterruptLine _line = new();
    private readonly List<byte> _output = [];
    private readonly VirtioConsoleDevice _console;
    private readonly VirtioPciDevice _device;
    private readonly VirtioPciDriver _driver;

    public VirtioConsoleDeviceTests()
    {
        _rx = new MockVirtqueue(_ram.Memory, TestMemory.RingBase(0), 64);
        _tx = new MockVirtqueue(_ram.Memory, TestMemory.RingBase(1), 64);
        _console = new VirtioConsoleDevice(_output.AddRange);
        _device = new VirtioPciDevice("hvc0", _console, _ram.Memory, _line, 0xE000_0000, 10);
        _driver = new VirtioPciDriver(_device);
        _driver.Initialize(_rx, _tx);
    }

    public void Dispose() => _ram.Dispose();

    [Fact]
    public void Transmitted_buffers_should_reach_the_output_sink_in_order()
    {
        var hello = _ram.AllocateFilled(Encoding.ASCII.GetBytes("hello "));
        var world = _ram.AllocateFilled(Encoding.ASCII.GetBytes("world"));
        _tx.AddChain(Buf.Readable(hello, 6));
        _tx.AddChain(Buf.Readable(world, 5));

        _driver.Notify(VirtioConsoleDevice.TransmitQueue);

        Assert.Equal("hello world", Encoding.ASCII.GetString(_output.ToArray()));
        Assert.Equal(2, _tx.UsedIdx);
        Assert.True(_line.Level);
    }

    [Fact]
    public void Input_should_fill_posted_receive_buffers_and_interrupt()
    {
        var buffer = _ram.Allocate(64);
        _rx.AddChain(Buf.Writable(buffer, 64));
        _driver.Notify(VirtioConsoleDevice.ReceiveQueue);
        var usedBeforeInput = _rx.UsedIdx;

        _console.EnqueueInput("ls\n"u8);

        Assert.Equal(0, usedBeforeInput);
        Assert.Equal(1, _rx.UsedIdx);
        Assert.Equal(3u, _rx.ReadUsed(0).Length);
        Assert.Equal("ls\n", Encoding.ASCII.GetString(_ram.ReadBytes(buffer, 3)));
        Assert.True(_line.Level);
    }

    [Fact]
    public void Input_before_receive_buffers_should_wait_and_be_split_across_small_buffers()
    {
        _console.EnqueueInput("abcdef"u8);
        var a = _ram.Allocate(4);
        var b = _ram.Allocate(4);
        _rx.AddChain(Buf.Writable(a, 4));
        _rx.AddChain(Buf.Writable(b, 4));

        _driver.Notify(VirtioConsoleDevice.ReceiveQueue);

        Assert.Equal(2, _rx.UsedIdx);
        Assert.Equal("abcd", Encoding.ASCII.GetString(_ram.ReadBytes(a, 4)));
        Assert.Equal("ef", Encoding.ASCII.GetString(_ram.ReadBytes(b, 2)));
        Assert.Equal(2u, _rx.ReadUsed(1).Length);
        Assert.Equal(0, _console.PendingInputBytes);
    }

    [Fact]
    public void Kick_handler_should_receive_device_initiated_work_instead_of_inline_processing()
    {
        var kicks = new List<int>();
        _device.QueueKickHandler = kicks.Add;
        _rx.AddChain(Buf.Writable(_ram.Allocate(8), 8));

        _console.EnqueueInput("x"u8);
        var usedBeforeKick = _rx.UsedIdx;
        QueueWorker.Pass(_device, kicks.Single());

        Assert.Equal(0, usedBeforeKick);
        Assert.Equal(1, _rx.UsedIdx);
    }

    [Fact]
    public void Pending_input_should_survive_a_save_and_restore()
    {
        _console.EnqueueInput("keep"u8);
        var saved = _device.SaveState();

        var console = new VirtioConsoleDevice(_ => { });
        var restarted = new VirtioPciDevice("hvc0", console, _ram.Memory, new RecordingInterruptLine(), 0xE000_0000, 10);
        restarted.RestoreState(saved);
        var buffer = _ram.Allocate(8);
        _rx.AddChain(Buf.Writable(buffer, 8));
        restarted.NotifyQueue(VirtioConsoleDevice.ReceiveQueue);

        Assert.Equal("keep", Encoding.ASCII.GetString(_ram.ReadBytes(buffer, 4)));
    }

    [Fact]
    public void Input_beyond_the_buffer_limit_should_be_dropped_and_counted()
    {
        _console.EnqueueInput(new byte[VirtioConsoleDevice.MaxPendingInput + 10]);

        Assert.Equal(VirtioConsoleDevice.MaxPendingInput, _console.PendingInputBytes);
        Assert.Equal(10, _console.DroppedInputBytes);
    }
}
