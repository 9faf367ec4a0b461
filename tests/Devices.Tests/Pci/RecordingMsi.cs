namespace ActorVmm.Devices.Tests.Pci;

/// <summary>MSI vectors that remember their routes and count what was sent; routes only x86 interrupt addresses.</summary>
internal sealed class RecordingMsi(int vectors) : IMsiInterrupts
{
    private readonly MsiMessage?[] _routes = new MsiMessage?[vectors];
    private readonly int[] _sent = new int[vectors];

    public int VectorCount => vectors;

    /// <summary>SetMessage calls that reached the controller.</summary>
    public int RouteChanges { get; private set; }

    public MsiMessage? Route(int vector) => _routes[vector];

    public int Sent(int vector) => _sent[vector];

    public int TotalSent => _sent.Sum();

    public bool SetMessage(int vector, MsiMessage message)
    {
        if ((uint)vector >= (uint)vectors)
        {
            return false;
        }

        RouteChanges++;
        _routes[vector] = message.IsX86Interrupt ? message : null;
        return message.IsX86Interrupt;
    }

    public void ClearMessage(int vector)
    {
        if ((uint)vector < (uint)vectors)
        {
            _routes[vector] = null;
        }
    }

    public void Trigger(int vector)
    {
        if ((uint)vector < (uint)vectors && _routes[vector] is not null)
        {
            _sent[vector]++;
        }
    }
}
