using System.Text;
using ActorVmm.Actors.Endpoints;

namespace ActorVmm.Actors.Faults;

/// <summary>The fault/restart summary <c>actorvmm run</c> prints to stderr at exit.</summary>
public static class FaultSummary
{
    /// <summary>
    /// One line per device that had an injected fault, a restart, a failure, a read timeout or a retried request, e.g.
    /// <c>actorvmm: disk0: faults crash=12 io-error=3; restarts 12; failures 12; retried 12</c>; empty when nothing
    /// happened (print nothing then).
    /// </summary>
    public static string Format(FaultCounters? counters, IEnumerable<DeviceEndpoint> endpoints)
    {
        var faults = counters?.Snapshot() ?? [];
        var byName = endpoints.ToDictionary(e => e.Name, StringComparer.Ordinal);
        var names = byName.Keys.Concat(faults.Select(f => f.Device)).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal);
        var sb = new StringBuilder();
        foreach (var name in names)
        {
            var parts = new List<string>();
            var mine = faults.Where(f => f.Device == name).ToList();
            if (mine.Count > 0)
            {
                parts.Add("faults " + string.Join(' ', mine.Select(f => $"{FaultPlan.KindName(f.Kind)}={f.Count}")));
            }

            if (byName.TryGetValue(name, out var endpoint))
            {
                Add(parts, "restarts", endpoint.Restarts);
                Add(parts, "failures", endpoint.Failures);
                Add(parts, "read timeouts", endpoint.ReadTimeouts);
                if (endpoint.IsFailStopped)
                {
                    parts.Add("fail-stopped (DEVICE_NEEDS_RESET)");
                }
                else if (endpoint.IsStopped && (endpoint.Failures > 0 || endpoint.Restarts > 0))
                {
                    parts.Add("stopped");
                }
            }

            Add(parts, "retried", counters?.Retried(name) ?? 0);
            if (parts.Count > 0)
            {
                sb.Append("actorvmm: ").Append(name).Append(": ").AppendJoin("; ", parts).Append('\n');
            }
        }

        return sb.ToString();
    }

    private static void Add(List<string> parts, string label, long value)
    {
        if (value > 0)
        {
            parts.Add($"{label} {value}");
        }
    }
}
