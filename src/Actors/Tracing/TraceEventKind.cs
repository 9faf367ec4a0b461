namespace ActorVmm.Actors.Tracing;

/// <summary>What a <see cref="TraceEvent"/> records: one kind per VM-exit reason, plus interrupts, faults and restarts.</summary>
public enum TraceEventKind : byte
{
    PioIn,
    PioOut,
    MmioRead,
    MmioWrite,
    Hlt,
    Shutdown,
    SystemEvent,
    InternalError,
    FailEntry,
    Interrupted,
    Unknown,

    /// <summary>A device raised an interrupt (edge, or a level line going high).</summary>
    Interrupt,

    /// <summary>A device model failed (or a fault was injected).</summary>
    Fault,

    /// <summary>A device was rebuilt by its supervisor.</summary>
    Restart,
}

/// <summary>How a device access reached the device.</summary>
public enum AccessPath : byte
{
    /// <summary>Not a device access (HLT, shutdown, ...).</summary>
    None,

    /// <summary>Run on the vCPU thread (device idle): no queueing.</summary>
    Inline,

    /// <summary>Posted to the device actor (read: waited for its answer; write: fire and forget).</summary>
    Posted,

    /// <summary>No device claims the address: read all-ones / write dropped.</summary>
    Unclaimed,
}

/// <summary>The stable names used in tables and trace files (<c>pio_in</c>, <c>mmio_write</c>, ...).</summary>
public static class TraceNames
{
    private static readonly string[] KindNames =
    [
        "pio_in", "pio_out", "mmio_read", "mmio_write", "hlt", "shutdown", "system_event", "internal_error",
        "fail_entry", "interrupted", "unknown", "interrupt", "fault", "restart",
    ];

    private static readonly string[] PathNames = ["none", "inline", "posted", "unclaimed"];

    /// <summary>Device name of accesses no device claims.</summary>
    public const string Unclaimed = "unclaimed";

    /// <summary>Device column of exits that are not device accesses.</summary>
    public const string NoDevice = "-";

    public static string Name(this TraceEventKind kind) => (int)kind < KindNames.Length ? KindNames[(int)kind] : "unknown";

    public static string Name(this AccessPath path) => (int)path < PathNames.Length ? PathNames[(int)path] : "none";

    public static bool TryParseKind(string? name, out TraceEventKind kind)
    {
        var i = Array.IndexOf(KindNames, name);
        kind = i < 0 ? TraceEventKind.Unknown : (TraceEventKind)i;
        return i >= 0;
    }

    public static AccessPath ParsePath(string? name)
    {
        var i = Array.IndexOf(PathNames, name);
        return i < 0 ? AccessPath.None : (AccessPath)i;
    }

    /// <summary>True for exits that touch a bus (PIO/MMIO).</summary>
    public static bool IsAccess(this TraceEventKind kind) => kind <= TraceEventKind.MmioWrite;

    /// <summary>True for PIO/MMIO reads (the guest gets <see cref="TraceEvent.Value"/>).</summary>
    public static bool IsRead(this TraceEventKind kind) => kind is TraceEventKind.PioIn or TraceEventKind.MmioRead;

    public static bool IsExit(this TraceEventKind kind) => kind <= TraceEventKind.Unknown;
}
