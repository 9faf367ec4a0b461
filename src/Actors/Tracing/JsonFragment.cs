using System.Buffers.Text;
using System.Globalization;
using System.Runtime.CompilerServices;
using System.Text.Json;

namespace ActorVmm.Actors.Tracing;

/// <summary>
/// One JSON object built by hand into a reused buffer: the trace writers' per-event path. Property names come as
/// pre-quoted UTF-8 literals (<c>"\"t\":"u8</c>), strings as <see cref="JsonEncodedText"/> encoded once, numbers
/// through <see cref="Utf8Formatter"/>; commas are placed by the fragment. Cheaper than <see cref="Utf8JsonWriter"/>'s
/// per-call bookkeeping, since the writer thread shares CPUs with the vCPUs. Not thread-safe (one per writer).
/// </summary>
internal sealed class JsonFragment
{
    private byte[] _buffer = new byte[512];
    private int _length;
    private bool _comma;

    /// <summary>The bytes written since <see cref="Clear"/>.</summary>
    public ReadOnlySpan<byte> Written => _buffer.AsSpan(0, _length);

    public void Clear()
    {
        _length = 0;
        _comma = false;
    }

    /// <summary>Starts an object: a top-level one, or the value of <paramref name="name"/> (<c>"\"args\":"u8</c>).</summary>
    public void BeginObject(ReadOnlySpan<byte> name = default)
    {
        if (!name.IsEmpty)
        {
            Name(name);
        }

        Byte((byte)'{');
        _comma = false;
    }

    public void EndObject()
    {
        Byte((byte)'}');
        _comma = true;
    }

    /// <summary>An integer property (long, ulong, int: specialized per type, no boxing).</summary>
    public void Number<T>(ReadOnlySpan<byte> name, T value)
        where T : struct, IUtf8SpanFormattable
    {
        Name(name);
        var span = Reserve(20);
        value.TryFormat(span, out var written, default, CultureInfo.InvariantCulture);
        _length += written;
        _comma = true;
    }

    public void String(ReadOnlySpan<byte> name, JsonEncodedText value)
    {
        Name(name);
        var bytes = value.EncodedUtf8Bytes;
        var span = Reserve(bytes.Length + 2);
        span[0] = (byte)'"';
        bytes.CopyTo(span[1..]);
        span[bytes.Length + 1] = (byte)'"';
        _length += bytes.Length + 2;
        _comma = true;
    }

    /// <summary>Nanoseconds as microseconds with three decimals ("12.345"), formatted from integers (no double).</summary>
    public void Micros(ReadOnlySpan<byte> name, long ns)
    {
        Name(name);
        var magnitude = ns;
        if (ns < 0)
        {
            Byte((byte)'-');
            magnitude = ns == long.MinValue ? long.MaxValue : -ns;
        }

        var span = Reserve(24);
        Utf8Formatter.TryFormat(magnitude / 1000, span, out var written);
        var fraction = (int)(magnitude % 1000);
        span[written] = (byte)'.';
        span[written + 1] = (byte)('0' + fraction / 100);
        span[written + 2] = (byte)('0' + fraction / 10 % 10);
        span[written + 3] = (byte)('0' + fraction % 10);
        _length += written + 4;
        _comma = true;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void Name(ReadOnlySpan<byte> name)
    {
        var span = Reserve(name.Length + 1);
        var at = 0;
        if (_comma)
        {
            span[0] = (byte)',';
            at = 1;
        }

        name.CopyTo(span[at..]);
        _length += at + name.Length;
    }

    private void Byte(byte value)
    {
        Reserve(1)[0] = value;
        _length++;
    }

    /// <summary>Room for <paramref name="count"/> more bytes at the end.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private Span<byte> Reserve(int count)
    {
        if (_length + count > _buffer.Length)
        {
            Array.Resize(ref _buffer, Math.Max(_buffer.Length * 2, _length + count));
        }

        return _buffer.AsSpan(_length);
    }
}
