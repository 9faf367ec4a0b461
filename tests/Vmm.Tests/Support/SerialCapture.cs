using System.Text;

namespace ActorVmm.Vmm.Tests.Support;

/// <summary>Collects what the guest writes to a serial port, for assertions.</summary>
public sealed class SerialCapture
{
    private readonly Lock _sync = new();
    private readonly StringBuilder _text = new();
    private readonly Stream? _echo = Environment.GetEnvironmentVariable("ACTORVMM_TEST_ECHO") == "1" ? System.Console.OpenStandardError() : null;

    public void Write(ReadOnlySpan<byte> bytes)
    {
        var text = Encoding.Latin1.GetString(bytes);
        lock (_sync)
        {
            _text.Append(text);
            _echo?.Write(bytes);
        }
    }

    public string Text
    {
        get
        {
            lock (_sync)
            {
                return _text.ToString();
            }
        }
    }
}
