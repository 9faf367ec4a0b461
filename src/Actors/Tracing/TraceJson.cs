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

    public static void WriteFields(Utf8JsonWriter w, in TraceEvent e)
    {
        w.WriteString("type", TypeOf(e.Kind));
        w.WriteNumber("t", e.TimeNs);
        switch (e.Kind)
        {
            case TraceEventKind.Interrupt:
                w.WriteNumber("gsi", e.Address);
                w.WriteString("device", e.Device);
                return;
            case TraceEventKind.Fault:
            case TraceEventKind.Restart:
                w.WriteString("device", e.Device);
                w.WriteString("kind", e.Detail ?? e.Kind.Name());
                return;
        }

        w.WriteNumber("vcpu", e.Vcpu);
        w.WriteString("reason", e.Kind.Name());
        if (e.Kind.IsAccess())
        {
            w.WriteNumber("addr", e.Address);
            w.WriteNumber("range", e.RangeStart);
            w.WriteNumber("size", e.Size);
            if (e.Count != 1)
            {
                w.WriteNumber("count", e.Count);
            }

            w.WriteNumber("value", e.Value);
            w.WriteString("device", e.Device);
            w.WriteString("path", e.Path.Name());
            w.WriteNumber("queued_ns", e.QueuedNs);
        }
        else if (e.Address != 0)
        {
            w.WriteNumber("detail", e.Address);
        }

        w.WriteNumber("dur_ns", e.DurationNs);
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
