using System.Buffers.Binary;
using ActorVmm.Actors.Settings;
using ActorVmm.Devices;
using Akka.Actor;
using Akka.Event;

namespace ActorVmm.Actors.Endpoints;

/// <summary>
/// A thin actor around one plain <see cref="IBusDevice"/>. It runs what was posted to its
/// <see cref="DeviceEndpoint"/> (accesses, host input) under the endpoint's gate, one at a time, and never waits for
/// I/O: queue passes run on the queue workers. It gives the device a supervisor: device exceptions — thrown here or
/// forwarded as <see cref="DeviceProtocol.Crashed"/> — are rethrown as <see cref="DeviceFailureException"/>. On
/// restart the queue workers are quiesced, the failed instance's state is saved in <see cref="PreRestart"/> (when
/// <see cref="RestartStateSource.Saved"/> and the device is <see cref="IStatefulDevice"/>) and restored into a fresh
/// instance; a failed restore leaves the device in a state the guest can recover from
/// (<see cref="IStatefulDevice.RestoreFailed"/>). The endpoint, its bus ranges and interrupt line stay the same
/// objects, and accesses posted meanwhile (config cycles too) reach the new instance only after its restore.
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
        if (!restarting && stash is null)
        {
            return;
        }

        // A first incarnation with a stash comes from a snapshot being restored (set by the VM actor).
        var from = restarting ? "restarted" : "restored";
        if (stash is not null && _device is IStatefulDevice stateful)
        {
            try
            {
                stateful.RestoreState(stash);
                _log.Info("Device {0} {1} from its saved state", _endpoint.Name, from);
                return;
            }
            catch (Exception ex)
            {
                _device = factory();
                var recovered = false;
                try
                {
                    (_device as IStatefulDevice)?.RestoreFailed(stash);
                    recovered = true;
                }
                catch (Exception inner)
                {
                    _device = factory();
                    _log.Error(inner, "Device {0}: bringing back its registers failed too", _endpoint.Name);
                }

                _log.Error(
                    ex,
                    recovered
                        ? "Device {0}: restoring the saved state failed; it came back needing a reset (the guest driver is told)"
                        : "Device {0}: restoring the saved state failed; starting from power-on state",
                    _endpoint.Name);
                if (recovered)
                {
                    return;
                }
            }
        }

        // Power-on state: a level line the old instance left high would storm the guest.
        interrupt?.SetLevel(false);
        _log.Info("Device {0} {1} from power-on state", _endpoint.Name, from);
    }

    public RestartStateSource RestartState { get; }

    public static Props Props(DeviceEndpoint endpoint, Func<IBusDevice> factory, RestartStateSource restartState = RestartStateSource.Saved, IInterruptLine? interrupt = null) =>
        Akka.Actor.Props.Create(() => new DeviceActor(endpoint, factory, restartState, interrupt));

    protected override void PreStart() => _endpoint.Install(_device);

    protected override void PreRestart(Exception reason, object message)
    {
        // Don't stop children / run PostStop (that would mark the endpoint dead): only save what the guest set up,
        // once no queue worker is inside the device (each finishes the request it is serving).
        _endpoint.Withdraw();
        _endpoint.CountRestart();
        _endpoint.StashedState = null;
        _endpoint.QuiesceQueues(_device);
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
            case DeviceProtocol.HostInput input:
                RunPosted(input, static (device, i) => DeviceEndpoint.DeliverInput(device, i.Data));
                break;
            case DeviceProtocol.Crashed crashed:
                lock (_endpoint.Gate)
                {
                    // Withdrawn as if it had thrown here: restarting until the supervisor settles it.
                    _endpoint.Withdraw();
                    _endpoint.MessageDone();
                }

                throw new DeviceFailureException(_endpoint.Name, crashed.Cause);
            case DeviceProtocol.CrashNow crash:
                RunPosted(crash, static (_, c) => throw new RequestedDeviceCrash(c.Device, c.Why));
                break;
            case DeviceProtocol.Reinstall:
                lock (_endpoint.Gate)
                {
                    if (_endpoint.CurrentDevice is null && !_endpoint.IsStopped && !_endpoint.IsFailStopped)
                    {
                        _endpoint.Install(_device);
                    }
                }

                break;
            case DeviceProtocol.GetState:
                OnGetState();
                break;
            default:
                Unhandled(message);
                break;
        }
    }

    private void OnRead(DeviceProtocol.Read read)
    {
        if (!read.Slot.TryClaim(read.Ticket))
        {
            // Its vCPU gave up (timeout, pause, stop) and the guest already read all-ones: running it now could
            // only cause side effects nobody sees (an ISR cleared, a UART byte consumed).
            lock (_endpoint.Gate)
            {
                _endpoint.CountSkippedRead();
                _endpoint.MessageDone();
            }

            return;
        }

        var started = ActorVmm.Kvm.Timing.CycleClock.Now();
        Span<byte> buffer = stackalloc byte[8];
        buffer.Clear();
        Exception? failure = null;
        lock (_endpoint.Gate)
        {
            try
            {
                DeviceEndpoint.Access(_device, read.Space, read.Offset, buffer[..Math.Clamp(read.Size, 1, 8)], default, isRead: true);
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

    private void OnWrite(DeviceProtocol.Write write)
    {
        try
        {
            RunPosted(write, static (device, w) =>
            {
                Span<byte> buffer = stackalloc byte[8];
                BinaryPrimitives.WriteUInt64LittleEndian(buffer, w.Value);
                DeviceEndpoint.Access(device, w.Space, w.Offset, default, buffer[..Math.Clamp(w.Size, 1, 8)], isRead: false);
            });
        }
        finally
        {
            write.Slot?.Complete(write.Ticket, 0);
        }
    }

    private void OnGetState()
    {
        object? state = null;
        if (_device is IStatefulDevice stateful)
        {
            _endpoint.QuiesceQueues(_device);
            lock (_endpoint.Gate)
            {
                try
                {
                    state = stateful.SaveState();
                }
                finally
                {
                    DeviceEndpoint.ResumeQueues(_device);
                }
            }
        }

        Sender.Tell(new DeviceProtocol.State(state));
    }

    /// <summary>Runs a posted message under the gate; a device exception fails the actor, for its supervisor.</summary>
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

    /// <summary>Under the gate, after a posted message ran.</summary>
    private void Settle(Exception? failure)
    {
        if (failure is not null)
        {
            _endpoint.Withdraw();
            _endpoint.CountFailure(failure);
        }
        else if (_endpoint.CurrentDevice is null && !_endpoint.IsStopped && !_endpoint.IsFailStopped)
        {
            // After a Resume the device was withdrawn; it is healthy again.
            _endpoint.Install(_device);
        }

        _endpoint.MessageDone();
    }
}
