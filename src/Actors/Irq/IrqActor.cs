using ActorVmm.Devices;
using Akka.Actor;
using Akka.Event;

namespace ActorVmm.Actors.Irq;

/// <summary>
/// Owns a VM's interrupt lines: creates one backend line per GSI (KVM: irqfd, plus resamplefd for level lines),
/// keeps the routing table (device → GSI), hands devices only <see cref="IInterruptLine"/> pins, and closes the
/// lines when it stops. Raising an interrupt does not go through this actor: a pin calls its backend line
/// directly (an eventfd write), which is safe because the line is a capability the actor created and revokes.
/// A request for MSI vectors (<see cref="IrqRequest.MsiVectors"/>) on a backend that is an <see cref="IMsiChipBackend"/>
/// gets a line that is also an <see cref="IMsiInterrupts"/>; when the backend has none, or cannot create them, the
/// device gets its plain line and stays on INTx.
/// </summary>
public sealed class IrqActor : ReceiveActor
{
    private readonly IIrqChipBackend _backend;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly Dictionary<uint, SharedLine> _lines = [];
    private readonly Dictionary<string, uint> _routing = [];
    private readonly List<IMsiVectorsBackend> _vectors = [];

    public IrqActor(IIrqChipBackend backend, IrqStats? stats = null)
    {
        _backend = backend;
        Stats = stats ?? new IrqStats();
        Receive<IrqProtocol.Connect>(OnConnect);
        Receive<IrqProtocol.GetRouting>(_ => Sender.Tell(new IrqProtocol.Routing(new Dictionary<string, uint>(_routing), Stats)));
    }

    public IrqStats Stats { get; }

    /// <param name="stats">Where per-GSI counts go (shared with whoever traces them).</param>
    public static Props Props(IIrqChipBackend backend, IrqStats? stats = null) => Akka.Actor.Props.Create(() => new IrqActor(backend, stats));

    protected override void PostStop()
    {
        foreach (var line in _lines.Values)
        {
            try
            {
                line.Close();
            }
            catch (Exception ex)
            {
                _log.Error(ex, "Closing the line of GSI {0} failed", line.Backend.Gsi);
            }
        }

        _lines.Clear();
        foreach (var vectors in _vectors)
        {
            try
            {
                vectors.Dispose();
            }
            catch (Exception ex)
            {
                _log.Error(ex, "Closing MSI vectors (GSIs {0}) failed", string.Join(",", vectors.Gsis));
            }
        }

        _vectors.Clear();
    }

    private void OnConnect(IrqProtocol.Connect connect)
    {
        var pins = new Dictionary<string, IInterruptLine>();
        try
        {
            foreach (var (device, request) in connect.Requests)
            {
                var level = request.Trigger == IrqTrigger.Level;
                if (!_lines.TryGetValue(request.Gsi, out var line))
                {
                    line = new SharedLine(_backend.CreateLine(request.Gsi, level), Stats.For(request.Gsi));
                    _lines.Add(request.Gsi, line);
                }
                else if (line.Backend.IsLevel != level)
                {
                    throw new InvalidOperationException(
                        $"Device '{device}' asks for GSI {request.Gsi} as {request.Trigger}, but it is already {(line.Backend.IsLevel ? "level" : "edge")}-triggered");
                }

                if (pins.ContainsKey(device) || !_routing.TryAdd(device, request.Gsi))
                {
                    throw new InvalidOperationException($"Device '{device}' asks for a second interrupt line");
                }

                pins.Add(device, WithVectors(device, new InterruptPin(device, line), request.MsiVectors));

                _log.Debug("Device {0} → GSI {1} ({2})", device, request.Gsi, request.Trigger);
            }
        }
        catch (Exception ex)
        {
            _log.Error(ex, "Connecting interrupt lines failed");
            Sender.Tell(new IrqProtocol.ConnectFailed(ex.Message));
            return;
        }

        Sender.Tell(new IrqProtocol.Connected(pins));
    }

    private IInterruptLine WithVectors(string device, InterruptPin pin, int count)
    {
        if (count <= 0 || _backend is not IMsiChipBackend msi)
        {
            return pin;
        }

        IMsiVectorsBackend vectors;
        try
        {
            vectors = msi.CreateMsiVectors(count);
        }
        catch (Exception ex)
        {
            _log.Warning("Device {0}: no MSI vectors ({1}); it stays on INTx", device, ex.Message);
            return pin;
        }

        _vectors.Add(vectors);
        _log.Debug("Device {0} → MSI GSIs {1}", device, string.Join(",", vectors.Gsis));
        return new MsiPin(pin, vectors, vectors.Gsis.Select(Stats.For).ToArray());
    }
}
