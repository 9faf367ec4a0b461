namespace ActorVmm.Actors.Tracing;

/// <summary>
/// One JSON object a line: a header (<c>{"type":"header",...}</c>), one line per event (<see cref="TraceJson"/>
/// fields), a trailer (<c>{"type":"end","dropped":N}</c>).
/// </summary>
public sealed class JsonlTraceWriter : ITraceEventWriter
{
    private readonly TraceOutput _out;
    private readonly JsonFragment _line = new();
    private readonly DeviceNames _devices = new();

    public JsonlTraceWriter(Stream stream, string vmName)
    {
        _out = new TraceOutput(stream);
        var json = _out.Json;
        json.WriteStartObject();
        json.WriteString("type", "header");
        json.WriteString("format", TraceJson.FormatName);
        json.WriteNumber("version", TraceJson.Version);
        json.WriteString("vm", vmName);
        json.WriteEndObject();
        _out.EndLine();
    }

    public static JsonlTraceWriter Create(string path, string vmName) => new(TraceOutput.OpenFile(path), vmName);

    public void Write(in TraceEvent e)
    {
        _line.Clear();
        _line.BeginObject();
        TraceJson.WriteFields(_line, e, _devices.Encoded(e.Device));
        _line.EndObject();
        _out.WriteLine(_line.Written);
    }

    public async ValueTask FinishAsync(long dropped)
    {
        var json = _out.Json;
        json.WriteStartObject();
        json.WriteString("type", "end");
        json.WriteNumber("dropped", dropped);
        json.WriteEndObject();
        _out.EndLine();
        await _out.FlushAsync().ConfigureAwait(false);
    }

    public ValueTask DisposeAsync() => _out.DisposeAsync();
}
