using System.CommandLine;
using System.Runtime.InteropServices;
using ActorVmm.Host.GuestConsole;
using ActorVmm.Actors.Logging;
using ActorVmm.Host.Logging;
using ActorVmm.Actors.Settings;
using ActorVmm.Host.Serve;
using ActorVmm.Host.Settings;

namespace ActorVmm.Host.Cli;

/// <summary>
/// The <c>actorvmm</c> command: <c>actorvmm run [options]</c>, <c>actorvmm serve --api-sock PATH</c> and its
/// clients (<c>vm</c>, <c>fault</c>, <c>device</c>, <c>snapshot</c>), <c>actorvmm trace</c>, <c>--version</c>, <c>--help</c>.
/// Settings precedence: command-line options &gt; <c>--config</c> VM file &gt; reference.conf (options become
/// <see cref="SettingOverride"/>s, so every layer goes through the same <see cref="SettingsLoader"/> checks).
/// Bad input prints one line, <c>actorvmm: ...</c>, on stderr and exits with <see cref="ExitBadInput"/>.
/// </summary>
public static class CliApp
{
    /// <summary>Exit code for bad input: a bad option, setting or file.</summary>
    public const int ExitBadInput = 2;

    /// <summary>Exit code for a failure that is not bad input (no runner, an unexpected error).</summary>
    public const int ExitFailure = 1;

    /// <summary>The API socket of <c>serve</c> and its clients when neither <c>--api-sock</c> nor ACTORVMM_API_SOCK says.</summary>
    public const string DefaultApiSocket = "/tmp/actorvmm.sock";

    /// <summary>
    /// Parses <paramref name="args"/> and runs the command; returns the process exit code.
    /// </summary>
    /// <param name="args">Command-line arguments (without the program name).</param>
    /// <param name="runner">Runs the VM (the program passes <see cref="Machine.RunCommand.RunAsync"/>).</param>
    /// <param name="stdout">Where help and version go; null for the process's stdout.</param>
    /// <param name="stderr">Where errors and (with logging.console = on) logs go; null for the process's stderr.</param>
    /// <param name="serviceFactory">Creates the VM service of <c>serve</c> from the VM defaults; null: serve is refused.</param>
    /// <param name="apiSocket">The <c>--api-sock</c> default (the program passes ACTORVMM_API_SOCK); null for <see cref="DefaultApiSocket"/>.</param>
    public static int Run(
        string[] args,
        Func<ActorVmmSettings, CancellationToken, Task<int>>? runner = null,
        TextWriter? stdout = null,
        TextWriter? stderr = null,
        Func<ServeDefaults, IVmService>? serviceFactory = null,
        string? apiSocket = null)
    {
        var output = stdout ?? System.Console.Out;
        var error = stderr ?? System.Console.Error;
        try
        {
            var options = new RunOptions();
            var run = new Command("run", "Boot a VM and run it until it powers off (Ctrl-A x quits on a terminal, Ctrl-C/SIGTERM stop it).");
            options.AddTo(run);
            int? exitCode = null;
            run.SetAction(parseResult => exitCode = RunVm(options.ToOverrides(parseResult), options.ConfigFile(parseResult), runner, stderr, error));

            var root = new RootCommand("actorvmm: a KVM virtual machine monitor on Akka.NET; every vCPU and device is an actor.");
            root.Subcommands.Add(run);
            root.Subcommands.Add(Tracing.TraceCommand.Create(output, error, code => exitCode = code));

            var socketDefault = string.IsNullOrEmpty(apiSocket) ? DefaultApiSocket : apiSocket;
            var serveOptions = new RunOptions();
            var apiSock = new Option<string>("--api-sock") { Description = "Unix socket of the REST API (must not exist); default: $ACTORVMM_API_SOCK, else the shown one", HelpName = "PATH", DefaultValueFactory = _ => socketDefault };
            var serve = new Command("serve", "Host many VMs behind a REST API on a Unix socket until SIGTERM/Ctrl-C (which stop every VM).");
            serve.Options.Add(apiSock);
            serveOptions.AddServeOptionsTo(serve);
            serve.SetAction(parseResult => exitCode = Serve(parseResult.GetValue(apiSock)!, serveOptions.ToOverrides(parseResult), serveOptions.ConfigFile(parseResult), serviceFactory, stderr, error));
            root.Subcommands.Add(serve);
            var client = new ClientCommands(output, stdout is null ? System.Console.OpenStandardOutput : null, error, socketDefault, code => exitCode = code);
            foreach (var command in client.Create())
            {
                root.Subcommands.Add(command);
            }

            var parseResult = root.Parse(args);
            if (parseResult.Errors.Count > 0)
            {
                // An unrecognized word says more than the "required command" error it causes.
                var first = parseResult.UnmatchedTokens.Count > 0
                    ? parseResult.Errors.FirstOrDefault(e => e.Message.Contains($"'{parseResult.UnmatchedTokens[0]}'", StringComparison.Ordinal)) ?? parseResult.Errors[0]
                    : parseResult.Errors[0];
                error.WriteLine($"actorvmm: {OneLine(first.Message)} (see actorvmm --help)");
                return ExitBadInput;
            }

            var invocation = new InvocationConfiguration
            {
                Output = output,
                Error = error,
                EnableDefaultExceptionHandler = false,
                ProcessTerminationTimeout = null,
            };
            var code = parseResult.Invoke(invocation);
            return exitCode ?? code;
        }
        catch (Exception e)
        {
            error.WriteLine($"actorvmm: {e.GetType().Name}: {OneLine(e.Message)}");
            return ExitFailure;
        }
    }

    private static int RunVm(IReadOnlyList<SettingOverride> overrides, string? configFile, Func<ActorVmmSettings, CancellationToken, Task<int>>? runner, TextWriter? stderr, TextWriter error)
    {
        ActorVmmSettings settings;
        Serilog.Core.Logger logger;
        try
        {
            settings = SettingsLoader.Load(configFile, overrides);
            StartupChecks.Check(settings);
            logger = LoggingSetup.Configure(settings.Logging, stderr);
        }
        catch (SettingsException e)
        {
            error.WriteLine($"actorvmm: {OneLine(e.Message)}");
            return ExitBadInput;
        }

        if (runner is null)
        {
            logger.Dispose();
            error.WriteLine("actorvmm: this build has no VM runner");
            return ExitFailure;
        }

        var previousLogger = Serilog.Log.Logger;
        Serilog.Log.Logger = logger;
        using var stop = new StopSignals();
        try
        {
            return runner(settings, stop.Token).GetAwaiter().GetResult();
        }
        catch (OperationCanceledException) when (stop.Token.IsCancellationRequested)
        {
            return 0;
        }
        catch (Exception e) when (e is SettingsException or ConsoleException)
        {
            error.WriteLine($"actorvmm: {OneLine(e.Message)}");
            return ExitBadInput;
        }
        catch (Exception e)
        {
            logger.Debug(e, "VM runner failed");
            error.WriteLine($"actorvmm: {e.GetType().Name}: {OneLine(e.Message)}");
            return ExitFailure;
        }
        finally
        {
            Serilog.Log.Logger = previousLogger;
            logger.Dispose();
        }
    }

    private static int Serve(string socketPath, IReadOnlyList<SettingOverride> overrides, string? configFile, Func<ServeDefaults, IVmService>? serviceFactory, TextWriter? stderr, TextWriter error)
    {
        ActorVmmSettings settings;
        Serilog.Core.Logger logger;
        try
        {
            settings = SettingsLoader.Load(configFile, overrides);
            logger = LoggingSetup.Configure(settings.Logging, stderr);
        }
        catch (SettingsException e)
        {
            error.WriteLine($"actorvmm: {OneLine(e.Message)}");
            return ExitBadInput;
        }

        if (serviceFactory is null)
        {
            logger.Dispose();
            error.WriteLine("actorvmm: this build has no VM service");
            return ExitFailure;
        }

        var previousLogger = Serilog.Log.Logger;
        Serilog.Log.Logger = logger;
        using var stop = new StopSignals();
        try
        {
            var defaults = new ServeDefaults(settings, ServeDefaults.HoconOf(configFile, overrides));
            return ServeCommand.RunAsync(socketPath, defaults, serviceFactory, logger, error, stop.Token).GetAwaiter().GetResult();
        }
        catch (Exception e)
        {
            logger.Debug(e, "serve failed");
            error.WriteLine($"actorvmm: {e.GetType().Name}: {OneLine(e.Message)}");
            return ExitFailure;
        }
        finally
        {
            Serilog.Log.Logger = previousLogger;
            logger.Dispose();
        }
    }

    private static string OneLine(string message) => SettingsLoader.FirstLine(message);

    /// <summary>Ctrl-C (SIGINT) and SIGTERM cancel the token once so the VM stops cleanly; a second Ctrl-C kills.</summary>
    internal sealed class StopSignals : IDisposable
    {
        private readonly CancellationTokenSource _cts = new();
        private readonly PosixSignalRegistration? _sigterm;

        public StopSignals()
        {
            System.Console.CancelKeyPress += OnCancelKeyPress;
            try
            {
                _sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, OnSigterm);
            }
            catch (PlatformNotSupportedException)
            {
                _sigterm = null;
            }
        }

        public CancellationToken Token => _cts.Token;

        public void Dispose()
        {
            System.Console.CancelKeyPress -= OnCancelKeyPress;
            _sigterm?.Dispose();
            _cts.Dispose();
        }

        private void OnCancelKeyPress(object? sender, ConsoleCancelEventArgs e)
        {
            // First Ctrl-C: stop the VM cleanly. Second: let the default handler end the process.
            e.Cancel = !_cts.IsCancellationRequested;
            Cancel();
        }

        private void OnSigterm(PosixSignalContext context)
        {
            context.Cancel = true;
            Cancel();
        }

        private void Cancel()
        {
            try
            {
                _cts.Cancel();
            }
            catch (ObjectDisposedException)
            {
                // The run already ended.
            }
        }
    }
}
