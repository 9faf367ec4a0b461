using System.Buffers;
using System.Text.Json;

namespace ActorVmm.Actors.Tracing;

/// <summary>
/// A trace file's output for the writer thread: a <see cref="Utf8JsonWriter"/> (validation off: the writers emit
/// well-formed JSON by construction) into a memory buffer that goes to the file in large writes.
/// </summary>
internal sealed class TraceOutput : IAsyncDisposable
{
    private const int FlushAt = 1 << 16;
    private readonly Stream _stream;
    private readonly ArrayBufferWriter<byte> _buffer = new(FlushAt * 2);

    public TraceOutput(Stream stream)
    {
        _stream = stream;
        Json = new Utf8JsonWriter(_buffer, new JsonWriterOptions { SkipValidation = true });
    }

    public Utf8JsonWriter Json { get; }

    /// <summary>A file opened for a trace: unbuffered, since <see cref="TraceOutput"/> batches itself.</summary>
    public static Stream OpenFile(string path) => new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.Read, bufferSize: 1);

    /// <summary>Ends a jsonl line: the next value starts a new top-level JSON text.</summary>
    public void EndLine()
    {
        Json.Flush();
        _buffer.GetSpan(1)[0] = (byte)'\n';
        _buffer.Advance(1);
        Json.Reset();
        WriteIfFull();
    }

    /// <summary>Appends a line formatted elsewhere (nothing may be pending in <see cref="Json"/>: call after <see cref="EndLine"/>).</summary>
    public void WriteLine(ReadOnlySpan<byte> line)
    {
        var span = _buffer.GetSpan(line.Length + 1);
        line.CopyTo(span);
        span[line.Length] = (byte)'\n';
        _buffer.Advance(line.Length + 1);
        WriteIfFull();
    }

    /// <summary>Moves the formatted bytes to the file once there are enough of them.</summary>
    public void WriteIfFull()
    {
        if (Json.BytesPending + _buffer.WrittenCount >= FlushAt)
        {
            Json.Flush();
            _stream.Write(_buffer.WrittenSpan);
            _buffer.ResetWrittenCount();
        }
    }

    public async ValueTask FlushAsync()
    {
        await Json.FlushAsync().ConfigureAwait(false);
        await _stream.WriteAsync(_buffer.WrittenMemory).ConfigureAwait(false);
        _buffer.ResetWrittenCount();
        await _stream.FlushAsync().ConfigureAwait(false);
    }

    public async ValueTask DisposeAsync()
    {
        await Json.DisposeAsync().ConfigureAwait(false);
        await _stream.DisposeAsync().ConfigureAwait(false);
    }
}
