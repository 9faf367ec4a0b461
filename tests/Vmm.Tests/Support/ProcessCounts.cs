namespace ActorVmm.Vmm.Tests.Support;

/// <summary>Open fds and the VMM's own named threads (vCPUs, queue workers, IRQ resamplers) of a process, from /proc.</summary>
public static class ProcessCounts
{
    private static readonly string[] VmmThreadPrefixes = ["vcpu", "queue-", "queues-", "irq-resample", "console-out", "actorvmm-trace"];

    public static int Fds(int pid) => Directory.GetFileSystemEntries($"/proc/{pid}/fd").Length;

    /// <summary>
    /// Open fds other than sockets: what VMs hold (/dev/kvm, VM and vCPU fds, eventfds, disk images), without the
    /// API's client connections, which HTTP keep-alive leaves open as the client pleases.
    /// </summary>
    public static int NonSocketFds(int pid)
    {
        var count = 0;
        foreach (var fd in Directory.GetFileSystemEntries($"/proc/{pid}/fd"))
        {
            try
            {
                if (new FileInfo(fd).LinkTarget is not { } target || !target.StartsWith("socket:", StringComparison.Ordinal))
                {
                    count++;
                }
            }
            catch (IOException)
            {
                // Closed meanwhile.
            }
        }

        return count;
    }

    public static int Threads(int pid) => Directory.GetDirectories($"/proc/{pid}/task").Length;

    /// <summary>What each open fd is (link targets: <c>/dev/kvm</c>, <c>anon_inode:kvm-vcpu:0</c>, <c>socket:[…]</c>, ...).</summary>
    public static IReadOnlyList<string> FdTargets(int pid)
    {
        var targets = new List<string>();
        foreach (var fd in Directory.GetFileSystemEntries($"/proc/{pid}/fd"))
        {
            try
            {
                targets.Add(new FileInfo(fd).LinkTarget ?? "?");
            }
            catch (IOException)
            {
                // Closed meanwhile.
            }
        }

        return targets;
    }

    /// <summary>The fds in <paramref name="after"/> beyond those in <paramref name="before"/> (by target), for a failure message.</summary>
    public static string Added(IReadOnlyList<string> before, IReadOnlyList<string> after)
    {
        var left = before.GroupBy(t => t).ToDictionary(g => g.Key, g => g.Count());
        var added = new List<string>();
        foreach (var target in after)
        {
            if (left.TryGetValue(target, out var n) && n > 0)
            {
                left[target] = n - 1;
            }
            else
            {
                added.Add(target);
            }
        }

        return string.Join(", ", added);
    }

    /// <summary>Threads whose name says a VM owns them.</summary>
    public static IReadOnlyList<string> VmmThreads(int pid)
    {
        var names = new List<string>();
        foreach (var task in Directory.GetDirectories($"/proc/{pid}/task"))
        {
            try
            {
                var name = File.ReadAllText(Path.Combine(task, "comm")).Trim();
                if (VmmThreadPrefixes.Any(p => name.StartsWith(p, StringComparison.Ordinal)))
                {
                    names.Add(name);
                }
            }
            catch (IOException)
            {
                // The thread ended meanwhile.
            }
        }

        return names;
    }

    /// <summary>Polls until <paramref name="condition"/> holds or <paramref name="timeout"/> passes; returns whether it held.</summary>
    public static async Task<bool> EventuallyAsync(Func<bool> condition, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (!condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                return false;
            }

            await Task.Delay(50);
        }

        return true;
    }

    /// <summary>Polls <paramref name="condition"/> (e.g. an API call) every 200 ms until it holds or <paramref name="timeout"/> passes.</summary>
    public static async Task<bool> EventuallyAsync(Func<Task<bool>> condition, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (!await condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                return false;
            }

            await Task.Delay(200);
        }

        return true;
    }
}
