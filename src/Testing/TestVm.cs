using System.Buffers;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using ActorVmm.Host.Serve;
using Akka.Actor;
using Akka.Configuration;

namespace ActorVmm.Testing;

/// <summary>
/// A VM booted in-process for a test (KVM, through the whole actor pipeline, as <c>actorvmm serve</c> runs it). Read
/// its console with <see cref="WaitForLineAsync(string, TimeSpan?)"/>, inject and clear faults while it runs, read
/// device counters, and assert on how it stopped. <c>await using</c> it: disposing kills the VM and releases
/// everything even when the test failed half-way.
/// <code>
/// await using var vm = await TestVm.StartAsync(new TestVmOptions { Disks = [new TestDisk(image)] });
/// var fault = await vm.InjectFaultAsync("disk0:crash,every=3");
/// await vm.WaitForLineAsync(@"journal: verified (\d+)/\1");
/// Assert.True(vm.Device("disk0").Restarts > 0);
/// </code>
/// </summary>
public sealed class TestVm : IAsyncDisposable
{
    private const int ConsoleCapacity = 4 << 20;
    private static long _sequence;

    private readonly ActorSystem _system;
    private readonly VmService _service;
    private readonly TimeSpan _timeout;
    private readonly StringBuilder _console = new();
    private readonly object _lock = new();
    private readonly Decoder _decoder = Encoding.UTF8.GetDecoder();
    private TaskCompletionSource _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private ConsoleSubscription? _subscription;
    private Task? _pump;
    private int _cursor;
    private bool _consoleEnded;

    private TestVm(ActorSystem system, VmService service, string id, TimeSpan timeout)
    {
        _system = system;
        _service = service;
        Id = id;
        _timeout = timeout;
    }

    /// <summary>The VM's id (unique in this process).</summary>
    public string Id { get; }

    /// <summary>The service the VM runs in, for what this class does not wrap.</summary>
    public IVmService Service => _service;

    /// <summary>Everything the console printed so far.</summary>
    public string Console
    {
        get
        {
            lock (_lock)
            {
                return _console.ToString();
            }
        }
    }

    /// <summary>created, running, paused or stopped.</summary>
    public string State => _service.Get(Id).State;

    /// <summary>Builds and starts the VM; throws <see cref="VmServiceException"/> (one line) when the options are bad.</summary>
    public static async Task<TestVm> StartAsync(TestVmOptions options, CancellationToken cancellation = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        var id = $"test{Interlocked.Increment(ref _sequence)}";
        var system = ActorSystem.Create(
            $"actorvmm-{id}",
            ConfigurationFactory.ParseString("akka.loglevel = WARNING\nakka.stdout-loglevel = WARNING\nakka.log-dead-letters = off"));
        var service = new VmService(system, options.Hocon, ConsoleCapacity);
        var vm = new TestVm(system, service, id, options.Timeout);
        try
        {
            var created = await service.CreateAsync(id, ToJson(options), cancellation).ConfigureAwait(false);

            // A restore runs from its creation: the whole ring, from its first byte, is the console.
            vm._subscription = service.AttachConsole(id, fromTail: ConsoleCapacity);
            vm._pump = Task.Run(vm.PumpAsync, CancellationToken.None);
            if (created.State == VmStates.Created)
            {
                await service.StartAsync(id, cancellation).ConfigureAwait(false);
            }
            return vm;
        }
        catch
        {
            await vm.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>
    /// Waits for the next console line (after the last line a wait matched) that matches <paramref name="pattern"/>.
    /// Throws <see cref="TestVmException"/> when the time is up or the VM stops first.
    /// </summary>
    public Task<Match> WaitForLineAsync(string pattern, TimeSpan? timeout = null) =>
        WaitForLineAsync(new Regex(pattern, RegexOptions.CultureInvariant), timeout);

    /// <inheritdoc cref="WaitForLineAsync(string, TimeSpan?)"/>
    public async Task<Match> WaitForLineAsync(Regex pattern, TimeSpan? timeout = null)
    {
        ArgumentNullException.ThrowIfNull(pattern);
        using var deadline = new CancellationTokenSource(timeout ?? _timeout);
        while (true)
        {
            Task changed;
            lock (_lock)
            {
                if (ScanLocked(pattern) is { } match)
                {
                    return match;
                }

                if (_consoleEnded)
                {
                    throw new TestVmException($"VM {Id} stopped ({Describe(_service.Get(Id).Exit)}) before a console line matched /{pattern}/{TailLocked()}");
                }

                changed = _changed.Task;
            }

            try
            {
                await changed.WaitAsync(deadline.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                lock (_lock)
                {
                    throw new TestVmException($"no console line matched /{pattern}/ within {(timeout ?? _timeout).TotalSeconds:0.#} s{TailLocked()}");
                }
            }
        }
    }

    /// <summary>Adds a fault in the <c>--fault</c> grammar; it applies from the device's next request or access.</summary>
    public Task<TestFault> InjectFaultAsync(string spec) =>
        Task.FromResult(new TestFault(_service, Id, _service.AddFault(Id, spec)));

    /// <summary>Every fault of the VM with how often it fired.</summary>
    public IReadOnlyList<FaultInfo> Faults => _service.Faults(Id);

    /// <summary>Removes every fault (those given at start too).</summary>
    public Task ClearFaultsAsync()
    {
        foreach (var fault in _service.Faults(Id))
        {
            _service.RemoveFault(Id, fault.Id);
        }

        return Task.CompletedTask;
    }

    /// <summary>Every device with its state, restarts, failures and faults fired.</summary>
    public IReadOnlyList<DeviceInfo> Devices => _service.Devices(Id);

    /// <summary>One device's <see cref="DeviceInfo"/>.</summary>
    public DeviceInfo Device(string name) =>
        Devices.FirstOrDefault(d => d.Name == name) ?? throw new ArgumentException($"VM {Id} has no device {name}", nameof(name));

    /// <summary>Makes the device fail now; its supervisor decides what follows (normally a restart).</summary>
    public Task CrashDeviceAsync(string name) => _service.CrashDeviceAsync(Id, name);

    /// <summary>Parks every vCPU (the guest stops; devices and timers keep their state).</summary>
    public Task PauseAsync() => _service.PauseAsync(Id);

    /// <summary>Lets the vCPUs run again.</summary>
    public Task ResumeAsync() => _service.ResumeAsync(Id);

    /// <summary>
    /// Writes a snapshot of the paused VM into <paramref name="directory"/> (new or empty): start another VM from it
    /// with <see cref="TestVmOptions.Restore"/>, as often as you like (each with its own copy of the disks).
    /// </summary>
    public Task<SnapshotInfo> SnapshotAsync(string directory) => _service.SnapshotAsync(Id, directory);

    /// <summary>Types <paramref name="text"/> on the console (COM1 or hvc0).</summary>
    public void SendInput(string text) => _service.SendConsoleInput(Id, Encoding.UTF8.GetBytes(text));

    /// <summary>Waits until the VM stops by itself (poweroff, reset, panic, ...) and says how.</summary>
    public async Task<TestVmExit> WaitForExitAsync(TimeSpan? timeout = null)
    {
        try
        {
            var info = await _service.WaitForStopAsync(Id).WaitAsync(timeout ?? _timeout).ConfigureAwait(false);
            return ToExit(info);
        }
        catch (TimeoutException e)
        {
            lock (_lock)
            {
                throw new TestVmException($"VM {Id} still {State} after {(timeout ?? _timeout).TotalSeconds:0.#} s{TailLocked()}", e);
            }
        }
    }

    /// <summary>Asks the guest to power off (ACPI power button, else Ctrl-Alt-Del), forcing it after <paramref name="timeout"/>.</summary>
    public async Task<TestVmExit> StopAsync(TimeSpan? timeout = null) => ToExit(await _service.StopAsync(Id, timeout).ConfigureAwait(false));

    /// <summary>Stops the VM now.</summary>
    public async Task<TestVmExit> KillAsync() => ToExit(await _service.KillAsync(Id).ConfigureAwait(false));

    /// <summary>Kills the VM if it still runs, releases everything it holds and stops its actor system.</summary>
    public async ValueTask DisposeAsync()
    {
        try
        {
            await _service.DisposeAsync().ConfigureAwait(false);
            _subscription?.Dispose();
            if (_pump is not null)
            {
                await _pump.ConfigureAwait(false);
            }
        }
        finally
        {
            await _system.Terminate().ConfigureAwait(false);
        }
    }

    private async Task PumpAsync()
    {
        var reader = _subscription!.Output;
        try
        {
            while (await reader.WaitToReadAsync().ConfigureAwait(false))
            {
                while (reader.TryRead(out var chunk))
                {
                    Append(chunk.Span);
                }
            }
        }
        catch (ConsoleOverrunException)
        {
            // Cannot happen with the ring this class sizes; the console then just ends.
        }
        finally
        {
            lock (_lock)
            {
                _consoleEnded = true;
                _changed.TrySetResult();
            }
        }
    }

    private void Append(ReadOnlySpan<byte> bytes)
    {
        var chars = ArrayPool<char>.Shared.Rent(_decoder.GetCharCount(bytes, flush: false) + 1);
        try
        {
            var count = _decoder.GetChars(bytes, chars, flush: false);
            lock (_lock)
            {
                _console.Append(chars, 0, count);
                var changed = _changed;
                _changed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                changed.TrySetResult();
            }
        }
        finally
        {
            ArrayPool<char>.Shared.Return(chars);
        }
    }

    private Match? ScanLocked(Regex pattern)
    {
        while (true)
        {
            var end = IndexOf(_console, '\n', _cursor);
            if (end < 0)
            {
                return null;
            }

            var line = _console.ToString(_cursor, end - _cursor).TrimEnd('\r');
            _cursor = end + 1;
            var match = pattern.Match(line);
            if (match.Success)
            {
                return match;
            }
        }
    }

    private static int IndexOf(StringBuilder text, char c, int start)
    {
        for (var i = start; i < text.Length; i++)
        {
            if (text[i] == c)
            {
                return i;
            }
        }

        return -1;
    }

    private string TailLocked()
    {
        var text = _console.ToString();
        var lines = text.Split('\n').TakeLast(20);
        return $"; the console's last lines:{Environment.NewLine}{string.Join(Environment.NewLine, lines)}";
    }

    private static string Describe(VmExitInfo? exit) => exit is null ? "no exit yet" : $"{exit.Reason}, code {exit.Code}: {exit.Message}";

    private static TestVmExit ToExit(VmInfo info) =>
        info.Exit is { } exit ? new TestVmExit(exit.Reason, exit.Code, exit.Message) : throw new TestVmException($"VM {info.Id} is {info.State}, not stopped");

    /// <summary>The options as the JSON body of <c>PUT /vms/{id}</c>.</summary>
    private static string ToJson(TestVmOptions options)
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            if (options.Restore is null)
            {
                json.WriteNumber("cpus", options.Cpus);
                json.WriteString("memory", options.Memory);
                WriteOptional(json, "kernel", options.Kernel);
                WriteOptional(json, "initrd", options.Initrd);
                WriteOptional(json, "cmdline", options.Cmdline);
                json.WriteBoolean("rng", options.Rng);
                json.WriteString("console", options.Console);
            }
            else
            {
                // The machine is the snapshot's: only its disks (one for one) and the faults are ours.
                json.WriteString("restore", options.Restore);
            }

            json.WriteStartArray("disks");
            foreach (var disk in options.Disks)
            {
                json.WriteStartObject();
                json.WriteString("path", disk.Path);
                json.WriteBoolean("read-only", disk.ReadOnly);
                json.WriteEndObject();
            }

            json.WriteEndArray();
            json.WriteStartArray("faults");
            foreach (var fault in options.Faults)
            {
                json.WriteStringValue(fault);
            }

            json.WriteEndArray();
            json.WriteEndObject();
        }

        return Encoding.UTF8.GetString(buffer.ToArray());
    }

    private static void WriteOptional(Utf8JsonWriter json, string key, string? value)
    {
        if (value is not null)
        {
            json.WriteString(key, value);
        }
    }
}

/// <summary>How a test VM stopped: <c>reason</c> (poweroff, reset, guest-panic, host-request, device-failure, ...), exit code, one line.</summary>
/// <param name="Reason">poweroff, reset, guest-panic, host-request, device-failure, ...</param>
/// <param name="Code">The exit code <c>actorvmm run</c> would return.</param>
/// <param name="Message">One line.</param>
public sealed record TestVmExit(string Reason, int Code, string Message);
