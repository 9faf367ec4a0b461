using Akka.Actor;

namespace ActorVmm.Actors.Net;

/// <summary>A NIC's link to a port of an in-process switch (<see cref="SwitchRegistry.Attach"/>). Disposing it detaches the port.</summary>
internal sealed class SwitchLink : SwitchPort, INetLink
{
    private readonly IActorRef _switch;
    private readonly Action<SwitchLink> _detach;
    private Action<byte[]>? _deliver;
    private volatile bool _detached;

    public SwitchLink(int id, string name, string switchName, IActorRef @switch, SwitchOptions options, Action<SwitchLink> detach)
        : base(id, name, options)
    {
        _switch = @switch;
        _detach = detach;
        Description = $"switch {switchName}";
    }

    public string Description { get; }

    public void Start(Action<byte[]> deliver)
    {
        ArgumentNullException.ThrowIfNull(deliver);
        if (Interlocked.CompareExchange(ref _deliver, deliver, null) is not null)
        {
            throw new InvalidOperationException($"{Description} ({Name}) was started twice");
        }
    }

    public void Send(byte[] frame)
    {
        if (_detached)
        {
            CountDropped();
            return;
        }

        if (TryEnter(frame.Length))
        {
            _switch.Tell(new SwitchProtocol.FrameIn(Id, frame));
        }
    }

    public void SetGuestOffloads(ulong ackedFeatures)
    {
    }

    public override void Deliver(byte[] frame)
    {
        var deliver = Volatile.Read(ref _deliver);
        if (deliver is null || _detached)
        {
            CountDropped();
            return;
        }

        deliver(frame);
    }

    public void Dispose()
    {
        if (_detached)
        {
            return;
        }

        _detached = true;
        _detach(this);
    }
}
