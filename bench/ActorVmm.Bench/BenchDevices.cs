using ActorVmm.Devices;
using ActorVmm.Kvm;
using Akka.Actor;

namespace ActorVmm.Bench;

/// <summary>A register file of one byte: the cheapest possible device.</summary>
internal sealed class TrivialDevice(string name) : IBusDevice
{
    private byte _value = 0x5a;

    public string Name { get; } = name;

    public void Read(ulong offset, Span<byte> data) => data.Fill(_value);

    public void Write(ulong offset, ReadOnlySpan<byte> data) => _value = data[0];
}

/// <summary>The same device behind a plain actor, for the Ask baseline.</summary>
internal sealed class AskDeviceActor : UntypedActor
{
    private readonly TrivialDevice _device = new("ask");

    protected override void OnReceive(object message)
    {
        if (message is ReadRequest read)
        {
            Span<byte> data = stackalloc byte[1];
            _device.Read(read.Offset, data);
            Sender.Tell(new ReadReply(data[0]));
        }
    }

    public sealed record ReadRequest(ulong Offset);

    public sealed record ReadReply(byte Value);
}

/// <summary>A vCPU whose guest is idle: Run blocks until kicked (like a halted guest with an in-kernel LAPIC).</summary>
internal sealed class IdleVcpu(int id) : IVcpu
{
    private readonly SemaphoreSlim _kick = new(0);

    public int Id { get; } = id;

    public Span<byte> ExitData => Span<byte>.Empty;

    public bool ImmediateExit { get; set; }

    public void BindToCurrentThread()
    {
    }

    public VmExit Run()
    {
        if (!ImmediateExit)
        {
            _kick.Wait();
        }

        ImmediateExit = false;
        return new VmExit(VmExitKind.Interrupted);
    }

    public void Kick() => _kick.Release();
}
