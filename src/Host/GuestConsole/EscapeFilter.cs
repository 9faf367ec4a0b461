namespace ActorVmm.Host.GuestConsole;

/// <summary>What the user asked for with a Ctrl-A escape.</summary>
public enum EscapeCommand
{
    /// <summary>Ctrl-A x: quit the VM.</summary>
    Quit,

    /// <summary>Ctrl-A h or Ctrl-A ?: print the escape help.</summary>
    Help,
}

/// <summary>
/// QEMU-style Ctrl-A escapes on a raw terminal's input: <c>Ctrl-A x</c> quits, <c>Ctrl-A h</c> prints help,
/// <c>Ctrl-A Ctrl-A</c> sends one Ctrl-A to the guest; any other byte after Ctrl-A is sent with the Ctrl-A. All other
/// input passes through unchanged. Keeps state across reads (the escape may straddle two reads). Not thread-safe:
/// one reader thread owns it.
/// </summary>
public sealed class EscapeFilter
{
    /// <summary>Ctrl-A.</summary>
    public const byte EscapeByte = 0x01;

    /// <summary>The help text for <see cref="EscapeCommand.Help"/>.</summary>
    public const string HelpText = "C-a x    quit the VM\r\nC-a h    this help\r\nC-a C-a  send C-a to the guest\r\n";

    private bool _escapePending;

    /// <summary>
    /// Filters <paramref name="input"/>: guest-bound bytes go to <paramref name="guest"/> (in runs, as slices of a new
    /// array), commands to <paramref name="command"/>. Returns false once Quit was seen (the rest is dropped).
    /// </summary>
    public bool Process(ReadOnlySpan<byte> input, Action<ReadOnlyMemory<byte>> guest, Action<EscapeCommand> command)
    {
        var output = new byte[input.Length + 1];
        var n = 0;
        foreach (var b in input)
        {
            if (_escapePending)
            {
                _escapePending = false;
                switch (b)
                {
                    case (byte)'x':
                    case (byte)'X':
                        Flush(output, ref n, guest);
                        command(EscapeCommand.Quit);
                        return false;
                    case (byte)'h':
                    case (byte)'H':
                    case (byte)'?':
                        Flush(output, ref n, guest);
                        command(EscapeCommand.Help);
                        continue;
                    case EscapeByte:
                        output[n++] = EscapeByte;
                        continue;
                    default:
                        output[n++] = EscapeByte;
                        output[n++] = b;
                        continue;
                }
            }

            if (b == EscapeByte)
            {
                _escapePending = true;
                continue;
            }

            output[n++] = b;
        }

        Flush(output, ref n, guest);
        return true;
    }

    private static void Flush(byte[] output, ref int n, Action<ReadOnlyMemory<byte>> guest)
    {
        if (n > 0)
        {
            guest(output.AsMemory(0, n));
            n = 0;
        }
    }
}
