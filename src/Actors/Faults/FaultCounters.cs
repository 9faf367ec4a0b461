using System.Collections.Concurrent;
using System.Runtime.CompilerServices;

namespace ActorVmm.Actors.Faults;

/// <summary>
/// Faults injected, per device and kind, and virtio-blk requests retried after an injected crash. Thread-safe;
/// one per VM (or per test). Restarts are counted on each device's <c>DeviceEndpoint.Restarts</c>.
/// </summary>
public sealed class FaultCounters
{
    private readonly ConcurrentDictionary<(string Device, FaultKind Kind), StrongBox<long>> _injected = new();
    private readonly ConcurrentDictionary<string, StrongBox<long>> _retried = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, StrongBox<long>> _requests = new(StringComparer.Ordinal);

    /// <summary>Faults of <paramref name="kind"/> injected into <paramref name="device"/>.</summary>
    public long Injected(string device, FaultKind kind) =>
        _injected.TryGetValue((device, kind), out var box) ? Interlocked.Read(ref box.Value) : 0;

    /// <summary>Faults of any kind injected into <paramref name="device"/>.</summary>
    public long Injected(string device) => _injected.Where(p => p.Key.Device == device).Sum(p => Interlocked.Read(ref p.Value.Value));

    /// <summary>All faults injected.</summary>
    public long Total => _injected.Values.Sum(b => Interlocked.Read(ref b.Value));

    /// <summary>Requests of <paramref name="device"/> served again after an injected crash (each exactly once).</summary>
    public long Retried(string device) => _retried.TryGetValue(device, out var box) ? Interlocked.Read(ref box.Value) : 0;

    /// <summary>virtio-blk requests of <paramref name="device"/> that met its fault plans (retries after a crash not counted).</summary>
    public long Requests(string device) => _requests.TryGetValue(device, out var box) ? Interlocked.Read(ref box.Value) : 0;

    /// <summary>Every (device, kind, count) with a count above zero, sorted by device then kind.</summary>
    public IReadOnlyList<(string Device, FaultKind Kind, long Count)> Snapshot() =>
        _injected
            .Select(p => (p.Key.Device, p.Key.Kind, Count: Interlocked.Read(ref p.Value.Value)))
            .Where(e => e.Count > 0)
            .OrderBy(e => e.Device, StringComparer.Ordinal)
            .ThenBy(e => e.Kind)
            .ToList();

    internal void CountInjected(string device, FaultKind kind) =>
        Interlocked.Increment(ref _injected.GetOrAdd((device, kind), _ => new StrongBox<long>()).Value);

    internal void CountRequest(string device) =>
        Interlocked.Increment(ref _requests.GetOrAdd(device, _ => new StrongBox<long>()).Value);

    internal void CountRetried(string device) =>
        Interlocked.Increment(ref _retried.GetOrAdd(device, _ => new StrongBox<long>()).Value);
}
