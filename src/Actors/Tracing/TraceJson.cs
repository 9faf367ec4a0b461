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

    // Property names and fixed strings encoded once: the writer thread formats every event.
    private static readonly JsonEncodedText Type = JsonEncodedText.Encode("type");
    private static readonly JsonEncodedText Time = JsonEncodedText.Encode("t");
    private static readonly JsonEncodedText Gsi = JsonEncodedText.Encode("gsi");
    private static readonly JsonEncodedText DeviceName = JsonEncodedText.Encode("device");
    private static readonly JsonEncodedText KindName = JsonEncodedText.Encode("kind");
    private static readonly JsonEncodedText VcpuName = JsonEncodedText.Encode("vcpu");
    private static readonly JsonEncodedText Reason = JsonEncodedText.Encode("reason");
    private static readonly JsonEncodedText Addr = JsonEncodedText.Encode("addr");
    private static readonly JsonEncodedText Range = JsonEncodedText.Encode("range");
    private static readonly JsonEncodedText Size = JsonEncodedText.Encode("size");
    private static readonly JsonEncodedText CountName = JsonEncodedText.Encode("count");
    private static readonly JsonEncodedText ValueName = JsonEncodedText.Encode("value");
    private static readonly JsonEncodedText PathName = JsonEncodedText.Encode("path");
    private static readonly JsonEncodedText Queued = JsonEncodedText.Encode("queued_ns");
    private static readonly JsonEncodedText DetailName = JsonEncodedText.Encode("detail");
    private static readonly JsonEncodedText Duration = JsonEncodedText.Encode("dur_ns");
    private static readonly JsonEncodedText[] Types =
        [.. Enum.GetValues<TraceEventKind>().Select(k => JsonEncodedText.Encode(TypeOf(k)))];

    private static readonly JsonEncodedText[] Kinds = [.. Enum.GetValues<TraceEventKind>().Select(k => JsonEncodedText.Encode(k.Name()))];
    private static readonly JsonEncodedText[] Paths = [.. Enum.GetValues<AccessPath>().Select(p => JsonEncodedText.Encode(p.Name()))];

    /// <summary><paramref name="kind"/>'s name, JSON-encoded once.</summary>
    public static JsonEncodedText Encoded(TraceEventKind kind) =>
        (int)kind < Kinds.Length ? Kinds[(int)kind] : Kinds[(int)TraceEventKind.Unknown];

    /// <summary><paramref name="path"/>'s name, JSON-encoded once.</summary>
    public static JsonEncodedText Encoded(AccessPath path) => (int)path < Paths.Length ? Paths[(int)path] : Paths[0];

    public static void WriteFields(Utf8JsonWriter w, in TraceEvent e)
    {
        w.WriteString(Type, (int)e.Kind < Types.Length ? Types[(int)e.Kind] : Types[(int)TraceEventKind.Unknown]);
        w.WriteNumber(Time, e.TimeNs);
        switch (e.Kind)
        {
            case TraceEventKind.Interrupt:
                w.WriteNumber(Gsi, e.Address);
                w.WriteString(DeviceName, e.Device);
                return;
            case TraceEventKind.Fault:
            case TraceEventKind.Restart:
                w.WriteString(DeviceName, e.Device);
                w.WriteString(KindName, e.Detail ?? e.Kind.Name());
                return;
        }

        w.WriteNumber(VcpuName, e.Vcpu);
        w.WriteString(Reason, Encoded(e.Kind));
        if (e.Kind.IsAccess())
        {
            w.WriteNumber(Addr, e.Address);
            w.WriteNumber(Range, e.RangeStart);
            w.WriteNumber(Size, e.Size);
            if (e.Count != 1)
            {
                w.WriteNumber(CountName, e.Count);
            }

            w.WriteNumber(ValueName, e.Value);
            w.WriteString(DeviceName, e.Device);
            w.WriteString(PathName, Encoded(e.Path));
            w.WriteNumber(Queued, e.QueuedNs);
        }
        else if (e.Address != 0)
        {
            w.WriteNumber(DetailName, e.Address);
        }

        w.WriteNumber(Duration, e.DurationNs);
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
