using System.Text.RegularExpressions;
using ActorVmm.Actors;
using ActorVmm.Actors.Faults;
using ActorVmm.Actors.Settings;
using ActorVmm.Actors.Tracing;
using ActorVmm.Devices.Legacy;
using ActorVmm.Host.Composition;
using ActorVmm.Host.Logging;
using ActorVmm.Host.Settings;
using ActorVmm.Kvm;
using Akka.Actor;

namespace ActorVmm.Host.Serve;

/// <summary>
/// The VMs of one process (<c>actorvmm serve</c>, or a test through <c>ActorVmm.Testing</c>): each built at create
/// (<see cref="VmBuilder"/>), started as its own <c>VmActor</c> tree in the shared actor system, its console kept in a
/// <see cref="ConsoleRing"/>. VMs share nothing but the actor system and the networks (<see cref="HostNetworks"/>:
/// the NICs of VMs that name one switch are on one L2 segment). See <see cref="IVmService"/> for the contract.
/// </summary>
public sealed partial class VmService : IVmService, IAsyncDisposable
{
    /// <summary>How long a graceful stop waits for the guest after the power button (or Ctrl-Alt-Del) before forcing it.</summary>
    public static readonly TimeSpan DefaultStopTimeout = TimeSpan.FromSeconds(15);

    private readonly Dictionary<string, ServedVm> _vms = new(StringComparer.Ordinal);
    private readonly HashSet<string> _creating = new(StringComparer.Ordinal);
    private readonly ActorSystem _system;
    private readonly string _serverHocon;
    private readonly int _consoleCapacity;
    private readonly HostNetworks _networks;
    private long _sequence;
    private bool _shutdown;

    /// <param name="system">The actor system every VM runs in (the caller owns it).</param>
    /// <param name="serverHocon">HOCON under every VM's request body (the server's VM file; empty: reference.conf).</param>
    /// <param name="consoleCapacity">Console bytes kept per VM.</param>
    public VmService(ActorSystem system, string serverHocon = "", int consoleCapacity = ConsoleRing.DefaultCapacity)
    {
        ArgumentNullException.ThrowIfNull(system);
        _system = system;
        _serverHocon = serverHocon;
        _consoleCapacity = consoleCapacity;
        _networks = new HostNetworks(Task.FromResult(system), SettingsLoader.Parse(serverHocon, "server settings").Switches);
    }

    /// <summary>A service with an actor system of its own (<c>actorvmm serve</c>), terminated when the service is disposed.</summary>
    public static VmService Create(ServeDefaults defaults)
    {
        ArgumentNullException.ThrowIfNull(defaults);
        var system = ActorSystem.Create("actorvmm", AkkaConfig.Build(defaults.Settings));
        return new VmService(system, defaults.Hocon) { OwnsSystem = true };
    }

    /// <summary>Whether disposing the service terminates its actor system.</summary>
    public bool OwnsSystem { get; init; }

    public async Task<VmInfo> CreateAsync(string id, string json, CancellationToken cancellation = default)
    {
        CheckId(id);
        var request = VmRequest.Parse(json, _serverHocon);
        lock (_vms)
        {
            if (_shutdown)
            {
                throw VmServiceException.Conflict("the server is shutting down");
            }

            if (_vms.ContainsKey(id) || !_creating.Add(id))
            {
                throw VmServiceException.Conflict($"VM {id} already exists");
            }
        }

        try
        {
            var ring = new ConsoleRing(_consoleCapacity);
            SerialOutput? output = request.KeepConsole ? ring.Write : null;
            var settings = request.Settings;
            var io = (settings.Vm.Console == ConsoleDevice.Serial
                ? new VmIo([output])
                : new VmIo([null]) { VirtioConsole = output }) with { Networks = _networks };

            // Building loads the kernel and opens the disks: off the caller's thread, and finished even when the
            // client goes away meanwhile (the VM then exists, as it would had the reply been lost).
            var machine = await Task.Run(() => Build(settings, io, id), CancellationToken.None).ConfigureAwait(false);
            var vm = new ServedVm(id, settings, machine, ring);
            lock (_vms)
            {
                _vms[id] = vm;
            }

            // A restore resumes the guest where it was (or leaves it paused, with start-paused): started at once.
            return settings.Vm.Restore is null ? vm.Info : await StartAsync(id, CancellationToken.None).ConfigureAwait(false);
        }
        finally
        {
            lock (_vms)
            {
                _creating.Remove(id);
            }
        }
    }

    public IReadOnlyList<VmInfo> List()
    {
        lock (_vms)
        {
            return _vms.Values.OrderBy(v => v.Id, StringComparer.Ordinal).Select(v => v.Info).ToList();
        }
    }

    public VmInfo Get(string id) => Find(id).Info;

    public async Task DeleteAsync(string id, CancellationToken cancellation = default)
    {
        var vm = Find(id);
        await vm.Gate.WaitAsync(CancellationToken.None).ConfigureAwait(false);
        try
        {
            await EndAsync(vm, "deleted through the API").ConfigureAwait(false);
            lock (_vms)
            {
                _vms.Remove(id);
            }
        }
        finally
        {
            vm.Gate.Release();
        }
    }

    public Task<VmInfo> StartAsync(string id, CancellationToken cancellation = default) => WithGate(id, vm =>
    {
        if (vm.State != VmStates.Created)
        {
            throw VmServiceException.Conflict($"VM {id} is {vm.State}: only a created VM starts");
        }

        var actorName = $"{Uri.EscapeDataString(id)}-{Interlocked.Increment(ref _sequence)}";
        try
        {
            vm.Handle = VmRunner.Spawn(_system, vm.Machine, tracer: null, id, actorName);
        }
        catch (Exception e)
        {
            vm.Machine.Blueprint.Resources?.Dispose();
            vm.MarkStopped(new VmStopReason(VmStopReasonKind.InternalError, $"starting failed: {e.Message}"));
            throw new VmServiceException(500, $"VM {id} could not start: {SettingsLoader.FirstLine(e.Message)}", e);
        }

        vm.State = vm.Machine.Blueprint.StartPaused ? VmStates.Paused : VmStates.Running;
        _ = vm.Handle.Stopped.ContinueWith(t => OnStoppedAsync(vm, t), TaskScheduler.Default).Unwrap();
        return Task.FromResult(vm.Info);
    });

    public Task<VmInfo> KillAsync(string id, CancellationToken cancellation = default) => WithGate(id, async vm =>
    {
        RequireStarted(vm, "kill");
        vm.Handle!.RequestStop("killed through the API");
        return await vm.Stopped.ConfigureAwait(false);
    });

    public async Task<VmInfo> WaitForStopAsync(string id, CancellationToken cancellation = default) =>
        await Find(id).Stopped.WaitAsync(cancellation).ConfigureAwait(false);

    public IReadOnlyList<DeviceInfo> Devices(string id)
    {
        var vm = Find(id);
        var counters = vm.Machine.Faults.Counters;
        return vm.Endpoints.Select(e => new DeviceInfo(
            e.Name,
            DeviceKinds.Of(e),
            DeviceKinds.StateOf(e),
            e.Restarts,
            e.Failures,
            counters.Injected(e.Name))).ToList();
    }

    public byte[] ConsoleTail(string id, int bytes)
    {
        if (bytes < 0)
        {
            throw VmServiceException.BadRequest($"tail must be 0 or more: {bytes}");
        }

        return Find(id).Console.Tail(bytes);
    }

    public ConsoleSubscription AttachConsole(string id, int fromTail = 0)
    {
        if (fromTail < 0)
        {
            throw VmServiceException.BadRequest($"tail must be 0 or more: {fromTail}");
        }

        return Find(id).Console.Attach(fromTail);
    }

    public int SendConsoleInput(string id, ReadOnlySpan<byte> bytes)
    {
        var vm = Find(id);
        if (vm.State is not (VmStates.Running or VmStates.Paused))
        {
            throw VmServiceException.Conflict($"VM {id} is {vm.State}: console input needs a started VM");
        }

        return vm.Machine.Console.Send(bytes);
    }

    /// <summary>Stops every VM (host request) and releases created ones; the service takes no more VMs.</summary>
    public async ValueTask DisposeAsync()
    {
        List<ServedVm> all;
        lock (_vms)
        {
            _shutdown = true;
            all = [.. _vms.Values];
        }

        await Task.WhenAll(all.Select(async vm =>
        {
            await vm.Gate.WaitAsync().ConfigureAwait(false);
            try
            {
                await EndAsync(vm, "the server is shutting down").ConfigureAwait(false);
            }
            finally
            {
                vm.Gate.Release();
            }
        })).ConfigureAwait(false);
        _networks.Dispose();
        if (OwnsSystem)
        {
            await _system.Terminate().ConfigureAwait(false);
        }
    }

    private static BuiltVm Build(ActorVmmSettings settings, VmIo io, string id)
    {
        try
        {
            return VmBuilder.Build(settings, io, id);
        }
        catch (Exception e) when (e is VmBuildException or SettingsException)
        {
            throw VmServiceException.BadRequest(VmRequestMessages.Readable(e.Message), e);
        }
        catch (KvmUnavailableException e)
        {
            throw new VmServiceException(503, e.Message, e);
        }
    }

    /// <summary>Stops a started VM (host request) or releases a created one; waits until its resources are gone.</summary>
    private static async Task EndAsync(ServedVm vm, string why)
    {
        switch (vm.State)
        {
            case VmStates.Created:
                vm.Machine.Blueprint.Resources?.Dispose();
                vm.MarkStopped(new VmStopReason(VmStopReasonKind.HostRequest, $"{why} before it started"));
                break;
            case VmStates.Running or VmStates.Paused:
                vm.Handle!.RequestStop(why);
                await vm.Stopped.ConfigureAwait(false);
                break;
        }
    }

    private async Task OnStoppedAsync(ServedVm vm, Task<VmStopReason> stopped)
    {
        var reason = stopped.IsCompletedSuccessfully
            ? stopped.Result
            : new VmStopReason(VmStopReasonKind.InternalError, stopped.Exception?.GetBaseException().Message ?? "the VM actor ended");
        if (vm.Tracer is { } tracer)
        {
            await FinishTraceAsync(vm, tracer).ConfigureAwait(false);
        }

        vm.MarkStopped(reason);
    }

    private ServedVm Find(string id)
    {
        lock (_vms)
        {
            return _vms.TryGetValue(id, out var vm) ? vm : throw VmServiceException.NotFound($"no VM {id}");
        }
    }

    private async Task<VmInfo> WithGate(string id, Func<ServedVm, Task<VmInfo>> action)
    {
        var vm = Find(id);
        await vm.Gate.WaitAsync(CancellationToken.None).ConfigureAwait(false);
        try
        {
            return await action(vm).ConfigureAwait(false);
        }
        finally
        {
            vm.Gate.Release();
        }
    }

    private static void RequireStarted(ServedVm vm, string action)
    {
        if (vm.State is not (VmStates.Running or VmStates.Paused))
        {
            throw VmServiceException.Conflict($"VM {vm.Id} is {vm.State}: cannot {action} it");
        }
    }

    private static void CheckId(string id)
    {
        if (!IdPattern().IsMatch(id))
        {
            throw VmServiceException.BadRequest($"bad VM id '{Truncate(id)}': 1-64 characters of a-z, A-Z, 0-9, '.', '_' and '-', not starting with '.' or '-'");
        }
    }

    private static string Truncate(string text) => text.Length <= 64 ? text : text[..64] + "...";

    [GeneratedRegex("^[A-Za-z0-9_][A-Za-z0-9._-]{0,63}$")]
    private static partial Regex IdPattern();
}
