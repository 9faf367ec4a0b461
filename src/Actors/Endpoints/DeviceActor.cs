using System.Buffers.Binary;
using ActorVmm.Actors.Settings;
using ActorVmm.Devices;
using Akka.Actor;
using Akka.Event;

namespace ActorVmm.Actors.Endpoints;

/// <summary>
/// A thin actor around one plain <see cref="IBusDevice"/>. It runs the accesses vCPU threads posted to its
/// <see cref="DeviceEndpoint"/> (under the endpoint's gate, one at a time) and gives the device a supervisor:
/// device exceptions — thrown here or forwarded from an inline access as <see cref="DeviceProtocol.Crashed"/> — are
/// rethrown as <see cref="DeviceFailureException"/>. On restart the failed instance's state is saved in
/// <see cref="PreRestart"/> (when <see cref="RestartStateSource.Saved"/> and the device is
/// <see cref="IStatefulDevice"/>) and restored into a fresh instance from the factory; the endpoint, its bus
/// ranges and interrupt line stay the same objects.
/// </summary>
public sealed class DeviceActor : UntypedActor
{
    private readonly DeviceEndpoint _endpoint;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private IBusDevice _device;

    public DeviceActor(DeviceEndpoint endpoint, Func<IBusDevice> factory, RestartStateSource restartState, IInterruptLine? interrupt)
    {
        _endpoint = endpoint;
        RestartState = restartState;
        _endpoint.Bind(Self);
        var stash = _endpoint.StashedState;
        _endpoint.StashedState = null;
        var restarting = _endpoint.NextIncarnation() > 1;
        _device = factory();
        if (!restarting)
        {
            return;
        }

        if (stash is not null && _device is IStatefulDevice stateful)
        {
            try
            {
                stateful.RestoreState(stash);
                _log.Info("Device {0} restarted from its saved state", _endpoint.Name);
                return;
            }
            catch (Exception ex)
            {
                _log.Error(ex, "Device {0}: restoring the saved state failed; starting from power-on state", _endpoint.Name);
                _device = factory();
            }
        }

        // Power-on state: a level line the old instance left high would storm the guest.
        interrupt?.SetLevel(false);
        _log.Info("Device {0} restarted from power-on state", _endpoint.Name);
    }

    public RestartStateSource RestartState { get; }

    public static Props Props(DeviceEndpoint endpoint, Func<IBusDevice> factory, RestartStateSource restartState = RestartStateSource.Saved, IInterruptLine? interrupt = null) =>
        Akka.Actor.Props.Create(() => new DeviceActor(endpoint, factory, restartState, interrupt));

    protected override void PreStart() => _endpoint.Install(_device);

    protected override void PreRestart(Exception reason, object message)
    {
        // Don't stop children / run PostStop (that would mark the endpoint dead): only save what the guest set up.
        _endpoint.Withdraw();
        _endpoint.CountRestart();
        _endpoint.StashedState = null;
        if (RestartState != RestartStateSource.Saved || _device is not IStatefulDevice stateful)
        {
            return;
        }

        try
        {
            lock (_endpoint.Gate)
            {
                _endpoint.StashedState = stateful.SaveState();
            }
        }
        catch (Exception ex)
        {
            _log.Error(ex, "Device {0}: saving state before the restart failed; it comes back in power-on state", _endpoint.Name);
        }
    }

    protected override void PostStop() => _endpoint.MarkStopped();

    protected override void OnReceive(object message)
    {
        switch (message)
        {
            case DeviceProtocol.Read read:
                OnRead(read);
                break;
            case DeviceProtocol.Write write:
                OnWrite(write);
                break;
            case DeviceProtocol.NotifyQueue notify:
                OnNotify(notify);
                break;
            case DeviceProtocol.Crashed crashed:
                lock (_endpoint.Gate)
                {
                    _endpoint.MessageDone();
                }

                throw new DeviceFailureException(_endpoint.Name, crashed.Cause);
            case DeviceProtocol.GetState:
                lock (_endpoint.Gate)
                {
                    Sender.Tell(new DeviceProtocol.State(_device is IStatefulDevice s ? s.SaveState() : null));
                }

                break;
            default:
                Unhandled(message);
                break;
        }
    }

    private void OnRead(DeviceProtocol.Read read)
    {
        var started = ActorVmm.Kvm.Timing.CycleClock.Now();
        Span<byte> buffer = stackalloc byte[8];
        buffer.Clear();
        Exception? failure = null;
        lock (_endpoint.Gate)
        {
            try
            {
                _device.Read(read.Offset, buffer[..Math.Clamp(read.Size, 1, 8)]);
            }
            catch (Exception ex)
            {
                failure = ex;
                buffer.Fill(0xff);
            }

            Settle(failure);
        }

        read.Slot.Complete(read.Ticket, BinaryPrimitives.ReadUInt64LittleEndian(buffer), started);
        if (failure is not null)
        {
            throw new DeviceFailureException(_endpoint.Name, failure);
        }
    }

    private void OnWrite(DeviceProtocol.Write write) => RunPosted(write, static (device, w) =>
    {
        Span<byte> buffer = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(buffer, w.Value);
        device.Write(w.Offset, buffer[..Math.Clamp(w.Size, 1, 8)]);
    });

    private void OnNotify(DeviceProtocol.NotifyQueue notify) =>
        RunPosted(notify, static (device, n) => DeviceEndpoint.Kick(device, n.Queue));

    /// <summary>Runs a posted access under the gate; a device exception fails the actor, for its supervisor.</summary>
    private void RunPosted<TMessage>(TMessage message, Action<IBusDevice, TMessage> access)
    {
        Exception? failure = null;
        lock (_endpoint.Gate)
        {
            try
            {
                access(_device, message);
            }
            catch (Exception ex)
            {
                failure = ex;
            }

            Settle(failure);
        }

        if (failure is not null)
        {
            throw new DeviceFailureException(_endpoint.Name, failure);
        }
    }

    /// <summary>Under the gate, after a posted access ran.</summary>
    private void Settle(Exception? failure)
    {
        if (failure is not null)
        {
            _endpoint.Withdraw();
            _endpoint.CountFailure(failure);
        }
        else if (_endpoint.InlineDevice is null && !_endpoint.IsStopped)
        {
            // After a Resume the device was withdrawn from inline use; it is healthy again.
            _endpoint.Install(_device);
        }

        _endpoint.MessageDone();
    }
}
