using System.Text.Json;

namespace ActorVmm.Actors.Tracing;

/// <summary>
/// One JSON object a line: a header (<c>{"type":"header",...}</c>), one line per event (<see cref="TraceJson"/>
/// fields), a trailer (<c>{"type":"end","dropped":N}</c>).
/// </summary>
public sealed class JsonlTraceWriter : ITraceEventWriter
{
    private static readonly byte[] NewLine = "\n"u8.ToArray();
    private readonly Stream _stream;
    private readonly Utf8JsonWriter _json;

    public JsonlTraceWriter(Stream stream, string vmName)
    {
        _stream = stream;
        _json = new Utf8JsonWriter(stream);
        _json.WriteStartObject();
        _json.WriteString("type", "header");
        _json.WriteString("format", TraceJson.FormatName);
        _json.WriteNumber("version", TraceJson.Version);
        _json.WriteString("vm", vmName);
        _json.WriteEndObject();
        EndLine();
    }

    public static JsonlTraceWriter Create(string path, string vmName) =>
        new(new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.Read, 1 << 16), vmName);

    public void Write(in TraceEvent e)
    {
        _json.WriteStartObject();
        TraceJson.WriteFields(_json, e);
        _json.WriteEndObject();
        EndLine();
    }

    public async ValueTask FinishAsync(long dropped)
    {
        _json.WriteStartObject();
        _json.WriteString("type", "end");
        _json.WriteNumber("dropped", dropped);
        _json.WriteEndObject();
        EndLine();
        await _stream.FlushAsync().ConfigureAwait(false);
    }

    public async ValueTask DisposeAsync()
    {
        await _json.DisposeAsync().ConfigureAwait(false);
        await _stream.DisposeAsync().ConfigureAwait(false);
    }

    private void EndLine()
    {
        _json.Flush();
        _stream.Write(NewLine);
        _json.Reset();
    }
}
