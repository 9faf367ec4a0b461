using System.Diagnostics;

namespace ActorVmm.Host.GuestConsole;

/// <summary>
/// Puts the terminal on stdin into raw mode with <c>stty</c> (no unsafe code here) and ALWAYS puts it back:
/// <see cref="Dispose"/>, process exit, an unhandled exception, or cancellation of the token given to
/// <see cref="TryEnterRaw"/>, whichever comes first; restoring twice is harmless.
/// </summary>
/// <remarks>
/// Raw mode follows QEMU's stdio chardev: no echo, no line editing, no signals from the keyboard (Ctrl-C goes to the
/// guest; Ctrl-A x quits), 8-bit input, output post-processing left on. <c>stty</c> runs on the terminal's device
/// path (<c>stty -F /dev/pts/N</c>) with all three of its standard streams redirected, so that .NET does not treat
/// it as a child using the terminal and re-apply its own terminal settings when it exits.
/// </remarks>
public sealed class TerminalMode : IDisposable
{
    private readonly string _device;
    private readonly string _saved;
    private readonly CancellationTokenRegistration _cancellation;
    private int _restored;

    private TerminalMode(string device, string saved, CancellationToken cancellationToken)
    {
        _device = device;
        _saved = saved;
        AppDomain.CurrentDomain.ProcessExit += OnProcessExit;
        AppDomain.CurrentDomain.UnhandledException += OnUnhandledException;
        _cancellation = cancellationToken.Register(Restore);
    }

    /// <summary>Whether this process's stdin is a terminal.</summary>
    public static bool StdinIsTerminal => !System.Console.IsInputRedirected;

    /// <summary>Whether the terminal has been restored.</summary>
    public bool IsRestored => Volatile.Read(ref _restored) != 0;

    /// <summary>
    /// Saves the stdin terminal's settings (<c>stty -g</c>) and makes it raw. Null when stdin is not a terminal or
    /// <c>stty</c> fails (<paramref name="error"/> says why; the caller reads cooked input then).
    /// </summary>
    public static TerminalMode? TryEnterRaw(CancellationToken cancellationToken, out string? error)
    {
        error = null;
        if (!StdinIsTerminal)
        {
            error = "stdin is not a terminal";
            return null;
        }

        string device;
        try
        {
            device = File.ResolveLinkTarget("/proc/self/fd/0", returnFinalTarget: false)?.FullName ?? "/dev/tty";
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            device = "/dev/tty";
        }

        if (!RunStty(device, ["-g"], out var saved, out error))
        {
            return null;
        }

        saved = saved.Trim();
        if (saved.Length == 0)
        {
            error = "stty -g printed nothing";
            return null;
        }

        var mode = new TerminalMode(device, saved, cancellationToken);
        if (!RunStty(device, ["raw", "-echo", "opost"], out _, out error))
        {
            mode.Dispose();
            return null;
        }

        return mode;
    }

    /// <summary>Restores the saved settings (once; later calls do nothing).</summary>
    public void Restore()
    {
        if (Interlocked.Exchange(ref _restored, 1) != 0)
        {
            return;
        }

        RunStty(_device, [_saved], out _, out _);
    }

    public void Dispose()
    {
        Restore();
        AppDomain.CurrentDomain.ProcessExit -= OnProcessExit;
        AppDomain.CurrentDomain.UnhandledException -= OnUnhandledException;
        _cancellation.Dispose();
    }

    private void OnProcessExit(object? sender, EventArgs e) => Restore();

    private void OnUnhandledException(object? sender, UnhandledExceptionEventArgs e) => Restore();

    private static bool RunStty(string device, IReadOnlyList<string> args, out string output, out string? error)
    {
        output = string.Empty;
        error = null;
        var psi = new ProcessStartInfo("stty")
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        psi.ArgumentList.Add("-F");
        psi.ArgumentList.Add(device);
        foreach (var a in args)
        {
            psi.ArgumentList.Add(a);
        }

        try
        {
            using var process = Process.Start(psi);
            if (process is null)
            {
                error = "stty did not start";
                return false;
            }

            process.StandardInput.Close();
            var stderrTask = process.StandardError.ReadToEndAsync();
            output = process.StandardOutput.ReadToEnd();
            process.WaitForExit();
            var stderr = stderrTask.GetAwaiter().GetResult();
            if (process.ExitCode != 0)
            {
                error = $"stty failed ({process.ExitCode}): {stderr.Trim()}";
                return false;
            }

            return true;
        }
        catch (Exception e) when (e is System.ComponentModel.Win32Exception or InvalidOperationException or IOException)
        {
            error = "cannot run stty: " + e.Message;
            return false;
        }
    }
}
