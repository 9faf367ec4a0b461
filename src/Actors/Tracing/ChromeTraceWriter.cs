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
    private readonly Stream _stream;
    private readonly Utf8JsonWriter _json;
    private readonly string _vmName;
    private readonly HashSet<int> _vcpus = [];
    private readonly Dictionary<string, int> _devices = new(StringComparer.Ordinal);

    public ChromeTraceWriter(Stream stream, string vmName)
    {
        _stream = stream;
        _vmName = vmName;
        _json = new Utf8JsonWriter(stream);
        _json.WriteStartObject();
        _json.WriteString("displayTimeUnit", "ns");
        _json.WriteStartArray("traceEvents");
        Metadata("process_name", 0, vmName);
    }

    public static ChromeTraceWriter Create(string path, string vmName) =>
        new(new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.Read, 1 << 16), vmName);

    public void Write(in TraceEvent e)
    {
        var ts = e.TimeNs / 1000.0;
        if (e.Kind.IsExit())
        {
            var tid = e.Vcpu + 1;
            if (_vcpus.Add(e.Vcpu))
            {
                Metadata("thread_name", tid, $"vcpu{e.Vcpu}");
                Metadata("thread_sort_index", tid, e.Vcpu);
            }

            Begin(e.Kind.Name(), "exit", "X", tid, ts);
            _json.WriteNumber("dur", e.DurationNs / 1000.0);
            Args(e);
            if (e.Path is AccessPath.Inline or AccessPath.Posted)
            {
                var dtid = DeviceTid(e.Device);
                var deviceStart = e.TimeNs + e.QueuedNs;
                var postedWrite = e.Path == AccessPath.Posted && !e.Kind.IsRead();
                Begin(e.Kind.Name(), "device", postedWrite ? "i" : "X", dtid, deviceStart / 1000.0);
                if (postedWrite)
                {
                    _json.WriteString("s", "t");
                }
                else
                {
                    _json.WriteNumber("dur", Math.Max(0, e.DurationNs - e.QueuedNs) / 1000.0);
                }

                _json.WriteStartObject("args");
                _json.WriteNumber("vcpu", e.Vcpu);
                _json.WriteString("path", e.Path.Name());
                _json.WriteNumber("addr", e.Address);
                _json.WriteEndObject();
                _json.WriteEndObject();
            }
        }
        else
        {
            var name = e.Kind == TraceEventKind.Interrupt ? $"irq {e.Address}" : $"{e.Kind.Name()} {e.Detail}";
            var cat = e.Kind == TraceEventKind.Interrupt ? "irq" : e.Kind.Name();
            Begin(name, cat, "i", DeviceTid(e.Device), ts);
            _json.WriteString("s", "t");
            Args(e);
        }

        if (_json.BytesPending > 1 << 16)
        {
            _json.Flush();
        }
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
        await _json.FlushAsync().ConfigureAwait(false);
        await _stream.FlushAsync().ConfigureAwait(false);
    }

    public async ValueTask DisposeAsync()
    {
        await _json.DisposeAsync().ConfigureAwait(false);
        await _stream.DisposeAsync().ConfigureAwait(false);
    }

    private int DeviceTid(string device)
    {
        if (!_devices.TryGetValue(device, out var tid))
        {
            tid = FirstDeviceTid + _devices.Count;
            _devices.Add(device, tid);
            Metadata("thread_name", tid, device);
            Metadata("thread_sort_index", tid, tid);
        }

        return tid;
    }

    private void Begin(string name, string cat, string ph, int tid, double ts)
    {
        _json.WriteStartObject();
        _json.WriteString("name", name);
        _json.WriteString("cat", cat);
        _json.WriteString("ph", ph);
        _json.WriteNumber("pid", Pid);
        _json.WriteNumber("tid", tid);
        _json.WriteNumber("ts", ts);
    }

    private void Args(in TraceEvent e)
    {
        _json.WriteStartObject("args");
        TraceJson.WriteFields(_json, e);
        _json.WriteEndObject();
        _json.WriteEndObject();
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
