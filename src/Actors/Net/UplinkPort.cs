using Akka.Actor;

namespace ActorVmm.Actors.Net;

/// <summary>A switch's port to the host network (a TAP link, <see cref="SwitchRegistry.AttachUplink"/>). Disposing it detaches and disposes the link.</summary>
internal sealed class UplinkPort : SwitchPort, IDisposable
{
    private readonly INetLink _link;
    private readonly IActorRef _switch;
    private readonly Action<UplinkPort> _detach;
    private volatile bool _detached;

    public UplinkPort(int id, INetLink link, IActorRef @switch, SwitchOptions options, Action<UplinkPort> detach)
        : base(id, $"uplink {link.Description}", options)
    {
        _link = link;
        _switch = @switch;
        _detach = detach;
    }

    /// <summary>Starts the link's frames toward the switch (after the switch was told of the port, so none comes first).</summary>
    public void Start() =>
        _link.Start(frame =>
        {
            if (!_detached && TryEnter(frame.Length))
            {
                _switch.Tell(new SwitchProtocol.FrameIn(Id, frame));
            }
        });

    public override void Deliver(byte[] frame)
    {
        if (_detached)
        {
            CountDropped();
            return;
        }

        _link.Send(frame);
    }

    public void Dispose()
    {
        if (_detached)
        {
            return;
        }

        _detached = true;
        _detach(this);
        _link.Dispose();
    }
}
