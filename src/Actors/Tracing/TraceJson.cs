using System.Text.Json;

namespace ActorVmm.Actors.Tracing;

/// <summary>
/// The JSON fields of one event, shared by both formats: a jsonl line is exactly these fields; a Chrome trace
/// event carries them in its <c>args</c>, so both read back into the same <see cref="TraceEvent"/>s.
/// </summary>
public static class TraceJson
{
    /// <summary>Identifies our files (header line / otherData).</summary>
    public const string FormatName = "actorvmm-trace";

    public const int Version = 1;

    public static string TypeOf(TraceEventKind kind) => kind switch
    {
        TraceEventKind.Interrupt => "interrupt",
        TraceEventKind.Fault => "fault",
        TraceEventKind.Restart => "restart",
        _ => "exit",
    };

    // Fixed strings encoded once: the writer thread formats every event.
    private static readonly JsonEncodedText[] Types =
        [.. Enum.GetValues<TraceEventKind>().Select(k => JsonEncodedText.Encode(TypeOf(k)))];

    private static readonly JsonEncodedText[] Kinds = [.. Enum.GetValues<TraceEventKind>().Select(k => JsonEncodedText.Encode(k.Name()))];
    private static readonly JsonEncodedText[] Paths = [.. Enum.GetValues<AccessPath>().Select(p => JsonEncodedText.Encode(p.Name()))];

    /// <summary><paramref name="kind"/>'s name, JSON-encoded once.</summary>
    public static JsonEncodedText Encoded(TraceEventKind kind) =>
        (int)kind < Kinds.Length ? Kinds[(int)kind] : Kinds[(int)TraceEventKind.Unknown];

    /// <summary><paramref name="path"/>'s name, JSON-encoded once.</summary>
    public static JsonEncodedText Encoded(AccessPath path) => (int)path < Paths.Length ? Paths[(int)path] : Paths[0];

    /// <summary>
    /// Writes the event's fields (no braces) into <paramref name="f"/>; <paramref name="device"/> is
    /// <see cref="TraceEvent.Device"/> JSON-encoded (see <see cref="DeviceNames"/>).
    /// </summary>
    internal static void WriteFields(JsonFragment f, in TraceEvent e, JsonEncodedText device)
    {
        f.String("\"type\":"u8, (int)e.Kind < Types.Length ? Types[(int)e.Kind] : Types[(int)TraceEventKind.Unknown]);
        f.Number("\"t\":"u8, e.TimeNs);
        switch (e.Kind)
        {
            case TraceEventKind.Interrupt:
                f.Number("\"gsi\":"u8, e.Address);
                f.String("\"device\":"u8, device);
                return;
            case TraceEventKind.Fault:
            case TraceEventKind.Restart:
                f.String("\"device\":"u8, device);
                f.String("\"kind\":"u8, JsonEncodedText.Encode(e.Detail ?? e.Kind.Name()));
                return;
        }

        f.Number("\"vcpu\":"u8, e.Vcpu);
        f.String("\"reason\":"u8, Encoded(e.Kind));
        if (e.Kind.IsAccess())
        {
            f.Number("\"addr\":"u8, e.Address);
            f.Number("\"range\":"u8, e.RangeStart);
            f.Number("\"size\":"u8, e.Size);
            if (e.Count != 1)
            {
                f.Number("\"count\":"u8, e.Count);
            }

            f.Number("\"value\":"u8, e.Value);
            f.String("\"device\":"u8, device);
            f.String("\"path\":"u8, Encoded(e.Path));
            f.Number("\"queued_ns\":"u8, e.QueuedNs);
        }
        else if (e.Address != 0)
        {
            f.Number("\"detail\":"u8, e.Address);
        }

        f.Number("\"dur_ns\":"u8, e.DurationNs);
    }

    /// <summary>Reads the fields <see cref="WriteFields"/> wrote; null for objects that are not events.</summary>
    public static TraceEvent? ReadFields(JsonElement o)
    {
        if (o.ValueKind != JsonValueKind.Object || !o.TryGetProperty("type", out var typeProp))
        {
            return null;
        }

        var type = typeProp.GetString();
        var time = Long(o, "t");
        var device = Str(o, "device") ?? TraceNames.NoDevice;
        switch (type)
        {
            case "interrupt":
                return new TraceEvent { Kind = TraceEventKind.Interrupt, TimeNs = time, Vcpu = -1, Address = ULong(o, "gsi"), Device = device };
            case "fault":
                return new TraceEvent { Kind = TraceEventKind.Fault, TimeNs = time, Vcpu = -1, Device = device, Detail = Str(o, "kind") };
            case "restart":
                return new TraceEvent { Kind = TraceEventKind.Restart, TimeNs = time, Vcpu = -1, Device = device, Detail = Str(o, "kind") };
            case "exit":
                TraceNames.TryParseKind(Str(o, "reason"), out var kind);
                return new TraceEvent
                {
                    Kind = kind,
                    TimeNs = time,
                    Vcpu = (int)Long(o, "vcpu"),
                    Address = kind.IsAccess() ? ULong(o, "addr") : ULong(o, "detail"),
                    RangeStart = ULong(o, "range"),
                    Size = (int)Long(o, "size"),
                    Count = o.TryGetProperty("count", out _) ? (int)Long(o, "count") : 1,
                    Value = ULong(o, "value"),
                    Device = device,
                    Path = TraceNames.ParsePath(Str(o, "path")),
                    QueuedNs = Long(o, "queued_ns"),
                    DurationNs = Long(o, "dur_ns"),
                };
            default:
                return null;
        }
    }

    private static string? Str(JsonElement o, string name) =>
        o.TryGetProperty(name, out var p) && p.ValueKind == JsonValueKind.String ? p.GetString() : null;

    private static long Long(JsonElement o, string name) =>
        o.TryGetProperty(name, out var p) && p.ValueKind == JsonValueKind.Number && p.TryGetInt64(out var v) ? v : 0;

    private static ulong ULong(JsonElement o, string name) =>
        o.TryGetProperty(name, out var p) && p.ValueKind == JsonValueKind.Number && p.TryGetUInt64(out var v) ? v : 0;
}
