using System.Text.Json;

namespace ActorVmm.Actors.Tracing;

/// <summary>
/// Chrome trace-event JSON (opens in Perfetto and chrome://tracing): one process (the VM), a track per vCPU
/// (tid = id + 1, "vcpuN") and per device (tid 1000+, named after the device). Exits are complete slices ("X",
/// µs) on their vCPU's track, and the device's share of each access a slice on the device's track (a posted write,
/// whose device time the vCPU does not wait for, an instant); interrupts, faults and restarts are instant events
/// on the device's track. Every event carries the <see cref="TraceJson"/> fields in <c>args</c>.
/// </summary>
public sealed class ChromeTraceWriter : ITraceEventWriter
{
    private const int Pid = 1;
    private const int FirstDeviceTid = 1000;
    private static readonly JsonEncodedText Exit = JsonEncodedText.Encode("exit");
    private static readonly JsonEncodedText Device = JsonEncodedText.Encode("device");
    private static readonly JsonEncodedText Complete = JsonEncodedText.Encode("X");
    private static readonly JsonEncodedText Instant = JsonEncodedText.Encode("i");
    private static readonly JsonEncodedText ThreadScope = JsonEncodedText.Encode("t");
    private readonly TraceOutput _out;
    private readonly JsonFragment _event = new();
    private readonly DeviceNames _deviceNames = new();
    private readonly Utf8JsonWriter _json;
    private readonly string _vmName;
    private readonly HashSet<int> _vcpus = [];
    private int _lastVcpu = int.MinValue;
    private string? _lastDevice;
    private int _lastDeviceTid;
    private readonly Dictionary<string, int> _devices = new(StringComparer.Ordinal);

    public ChromeTraceWriter(Stream stream, string vmName)
    {
        _out = new TraceOutput(stream);
        _vmName = vmName;
        _json = _out.Json;
        _json.WriteStartObject();
        _json.WriteString("displayTimeUnit", "ns");
        _json.WriteStartArray("traceEvents");
        Metadata("process_name", 0, vmName);
    }

    public static ChromeTraceWriter Create(string path, string vmName) =>
        new(TraceOutput.OpenFile(path), vmName);

    public void Write(in TraceEvent e)
    {
        var device = _deviceNames.Encoded(e.Device);
        if (e.Kind.IsExit())
        {
            var tid = e.Vcpu + 1;
            if (e.Vcpu != _lastVcpu && _vcpus.Add(e.Vcpu))
            {
                Metadata("thread_name", tid, $"vcpu{e.Vcpu}");
                Metadata("thread_sort_index", tid, e.Vcpu);
            }

            _lastVcpu = e.Vcpu;
            var name = TraceJson.Encoded(e.Kind);
            Begin(name, Exit, Complete, tid, e.TimeNs);
            _event.Micros("\"dur\":"u8, e.DurationNs);
            WriteArgs(e, device);
            if (e.Path is AccessPath.Inline or AccessPath.Posted)
            {
                var dtid = DeviceTid(e.Device);
                var postedWrite = e.Path == AccessPath.Posted && !e.Kind.IsRead();
                Begin(name, Device, postedWrite ? Instant : Complete, dtid, e.TimeNs + e.QueuedNs);
                if (postedWrite)
                {
                    _event.String("\"s\":"u8, ThreadScope);
                }
                else
                {
                    _event.Micros("\"dur\":"u8, Math.Max(0, e.DurationNs - e.QueuedNs));
                }

                _event.BeginObject("\"args\":"u8);
                _event.Number("\"vcpu\":"u8, e.Vcpu);
                _event.String("\"path\":"u8, TraceJson.Encoded(e.Path));
                _event.Number("\"addr\":"u8, e.Address);
                _event.EndObject();
                End();
            }
        }
        else
        {
            var name = e.Kind == TraceEventKind.Interrupt ? $"irq {e.Address}" : $"{e.Kind.Name()} {e.Detail}";
            var cat = e.Kind == TraceEventKind.Interrupt ? "irq" : e.Kind.Name();
            Begin(JsonEncodedText.Encode(name), JsonEncodedText.Encode(cat), Instant, DeviceTid(e.Device), e.TimeNs);
            _event.String("\"s\":"u8, ThreadScope);
            WriteArgs(e, device);
        }

        _out.WriteIfFull();
    }

    public async ValueTask FinishAsync(long dropped)
    {
        _json.WriteEndArray();
        _json.WriteStartObject("otherData");
        _json.WriteString("format", TraceJson.FormatName);
        _json.WriteNumber("version", TraceJson.Version);
        _json.WriteString("vm", _vmName);
        _json.WriteNumber("dropped", dropped);
        _json.WriteEndObject();
        _json.WriteEndObject();
        await _out.FlushAsync().ConfigureAwait(false);
    }

    public ValueTask DisposeAsync() => _out.DisposeAsync();

    private int DeviceTid(string device)
    {
        if (ReferenceEquals(device, _lastDevice))
        {
            return _lastDeviceTid;
        }

        if (!_devices.TryGetValue(device, out var tid))
        {
            tid = FirstDeviceTid + _devices.Count;
            _devices.Add(device, tid);
            Metadata("thread_name", tid, device);
            Metadata("thread_sort_index", tid, tid);
        }

        _lastDevice = device;
        _lastDeviceTid = tid;
        return tid;
    }

    /// <summary>Starts an event object in the fragment: name, category, phase, pid, tid, timestamp (µs).</summary>
    private void Begin(JsonEncodedText name, JsonEncodedText cat, JsonEncodedText ph, int tid, long timeNs)
    {
        _event.Clear();
        _event.BeginObject();
        _event.String("\"name\":"u8, name);
        _event.String("\"cat\":"u8, cat);
        _event.String("\"ph\":"u8, ph);
        _event.Number("\"pid\":"u8, Pid);
        _event.Number("\"tid\":"u8, tid);
        _event.Micros("\"ts\":"u8, timeNs);
    }

    /// <summary>Closes the event object and puts it into the traceEvents array.</summary>
    private void End()
    {
        _event.EndObject();
        _json.WriteRawValue(_event.Written, skipInputValidation: true);
    }

    private void WriteArgs(in TraceEvent e, JsonEncodedText device)
    {
        _event.BeginObject("\"args\":"u8);
        TraceJson.WriteFields(_event, e, device);
        _event.EndObject();
        End();
    }

    private void Metadata(string name, int tid, string value)
    {
        _json.WriteStartObject();
        _json.WriteString("name", name);
        _json.WriteString("ph", "M");
        _json.WriteNumber("pid", Pid);
        _json.WriteNumber("tid", tid);
        _json.WriteStartObject("args");
        _json.WriteString("name", value);
        _json.WriteEndObject();
        _json.WriteEndObject();
    }

    private void Metadata(string name, int tid, int sortIndex)
    {
        _json.WriteStartObject();
        _json.WriteString("name", name);
        _json.WriteString("ph", "M");
        _json.WriteNumber("pid", Pid);
        _json.WriteNumber("tid", tid);
        _json.WriteStartObject("args");
        _json.WriteNumber("sort_index", sortIndex);
        _json.WriteEndObject();
        _json.WriteEndObject();
    }
}
