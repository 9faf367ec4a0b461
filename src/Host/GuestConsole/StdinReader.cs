namespace ActorVmm.Host.GuestConsole;

/// <summary>
/// Reads host input on a background thread and pushes it to the guest console (e.g. the serial device's
/// EnqueueInput). When stdin is a terminal it goes raw (<see cref="TerminalMode"/>, always restored) and the Ctrl-A
/// escapes of <see cref="EscapeFilter"/> apply: Ctrl-A x calls the quit callback. On a pipe or file, input passes
/// through unchanged; end of input just stops reading (the VM keeps running).
/// </summary>
public sealed class StdinReader : IDisposable
{
    private readonly Stream _input;
    private readonly Action<ReadOnlyMemory<byte>> _onInput;
    private readonly Action _onQuit;
    private readonly Action<string>? _onMessage;
    private readonly EscapeFilter? _escapes;
    private readonly TerminalMode? _terminal;
    private readonly Thread _thread;
    private readonly TaskCompletionSource _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private volatile bool _stopped;

    /// <summary>
    /// Reads <paramref name="input"/>. <paramref name="escapes"/> turns Ctrl-A escapes on; <paramref name="terminal"/>
    /// (owned, restored on <see cref="Dispose"/> and when reading ends) is the raw mode to undo.
    /// </summary>
    /// <param name="input">The byte source.</param>
    /// <param name="onInput">Receives guest-bound bytes (the memory is not reused).</param>
    /// <param name="onQuit">Called once for Ctrl-A x.</param>
    /// <param name="escapes">Whether Ctrl-A escapes are interpreted.</param>
    /// <param name="onMessage">Receives text for the user (the Ctrl-A h help); null to ignore.</param>
    /// <param name="terminal">Raw terminal mode to restore when reading stops.</param>
    public StdinReader(
        Stream input,
        Action<ReadOnlyMemory<byte>> onInput,
        Action onQuit,
        bool escapes,
        Action<string>? onMessage = null,
        TerminalMode? terminal = null)
    {
        _input = input ?? throw new ArgumentNullException(nameof(input));
        _onInput = onInput ?? throw new ArgumentNullException(nameof(onInput));
        _onQuit = onQuit ?? throw new ArgumentNullException(nameof(onQuit));
        _onMessage = onMessage;
        _escapes = escapes ? new EscapeFilter() : null;
        _terminal = terminal;
        _thread = new Thread(ReadLoop) { IsBackground = true, Name = "actorvmm-stdin" };
    }

    /// <summary>Completes when reading stops: end of input, a read error, Ctrl-A x, or <see cref="Dispose"/>.</summary>
    public Task Completion => _completion.Task;

    /// <summary>The exception a callback threw, which stopped reading; null otherwise.</summary>
    public Exception? Error { get; private set; }

    /// <summary>Whether stdin was put into raw mode.</summary>
    public bool IsRaw => _terminal is not null;

    /// <summary>
    /// Starts reading this process's stdin: raw with Ctrl-A escapes when it is a terminal (restored on Dispose,
    /// process exit or <paramref name="cancellationToken"/>), plain otherwise. Help text goes to stderr.
    /// </summary>
    public static StdinReader StartStdin(Action<ReadOnlyMemory<byte>> onInput, Action onQuit, CancellationToken cancellationToken)
    {
        var terminal = TerminalMode.TryEnterRaw(cancellationToken, out _);
        var reader = new StdinReader(
            System.Console.OpenStandardInput(),
            onInput,
            onQuit,
            escapes: terminal is not null,
            onMessage: text => System.Console.Error.Write(text),
            terminal: terminal);
        reader.Start();
        return reader;
    }

    /// <summary>Starts the reader thread.</summary>
    public void Start() => _thread.Start();

    /// <summary>Stops delivering input and restores the terminal. A read blocked on stdin is abandoned (background thread).</summary>
    public void Dispose()
    {
        _stopped = true;
        _terminal?.Dispose();
        _completion.TrySetResult();
    }

    private void ReadLoop()
    {
        var buffer = new byte[4096];
        try
        {
            while (!_stopped)
            {
                int n;
                try
                {
                    n = _input.Read(buffer, 0, buffer.Length);
                }
                catch (Exception e) when (e is IOException or ObjectDisposedException or NotSupportedException)
                {
                    break;
                }

                if (n <= 0 || _stopped)
                {
                    break;
                }

                if (_escapes is null)
                {
                    _onInput(buffer.AsSpan(0, n).ToArray());
                    continue;
                }

                if (!_escapes.Process(buffer.AsSpan(0, n), _onInput, OnCommand))
                {
                    break;
                }
            }
        }
        catch (Exception e)
        {
            // A failing consumer ends input rather than the process (this is a background thread).
            Error = e;
        }
        finally
        {
            _terminal?.Restore();
            _completion.TrySetResult();
        }
    }

    private void OnCommand(EscapeCommand command)
    {
        switch (command)
        {
            case EscapeCommand.Quit:
                _stopped = true;
                _terminal?.Restore();
                _onQuit();
                break;
            case EscapeCommand.Help:
                _onMessage?.Invoke(EscapeFilter.HelpText);
                break;
        }
    }
}
