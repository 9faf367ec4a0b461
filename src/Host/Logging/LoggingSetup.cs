using ActorVmm.Actors.Settings;
using ActorVmm.Host.Settings;
using Serilog;
using Serilog.Core;
using Serilog.Events;
using Serilog.Formatting;
using Serilog.Formatting.Compact;
using Serilog.Formatting.Display;
using ActorVmm.Actors.Logging;

namespace ActorVmm.Host.Logging;

/// <summary>Builds the VMM's Serilog logger from <see cref="LoggingSettings"/>.</summary>
public static class LoggingSetup
{
    /// <summary>Text format: time, level, actor path (when the event has one), message.</summary>
    public const string TextTemplate = "{Timestamp:HH:mm:ss.fff} {Level:u3} {ActorPath} {Message:lj}{NewLine}{Exception}";

    /// <summary>
    /// A logger with the sinks <paramref name="settings"/> asks for: stderr (never stdout: it belongs to the guest's
    /// serial console) and/or an appended file, as text or compact JSON. Dispose it at exit to flush the file.
    /// </summary>
    /// <param name="settings">Level, sinks and format.</param>
    /// <param name="stderr">Where the console sink writes; null for the process's stderr.</param>
    /// <exception cref="SettingsException">The log file cannot be opened.</exception>
    public static Logger Configure(LoggingSettings settings, TextWriter? stderr = null)
    {
        var configuration = new LoggerConfiguration().Enrich.FromLogContext();
        if (settings.Level == LoggingLevel.Off)
        {
            return configuration.MinimumLevel.Is((LogEventLevel)((int)LogEventLevel.Fatal + 1)).CreateLogger();
        }

        configuration.MinimumLevel.Is(ToSerilog(settings.Level));
        var formatter = CreateFormatter(settings.Format);

        if (settings.Console)
        {
            if (stderr is null)
            {
                configuration.WriteTo.Console(formatter, standardErrorFromLevel: LogEventLevel.Verbose);
            }
            else
            {
                configuration.WriteTo.Sink(new TextWriterSink(formatter, stderr));
            }
        }

        if (settings.File is { } file)
        {
            try
            {
                // Open once here so that a bad path is a clear error now rather than a silent SelfLog line later.
                using (new FileStream(file, FileMode.Append, FileAccess.Write, FileShare.ReadWrite))
                {
                }
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
            {
                throw new SettingsException($"cannot open log file {file}: {e.Message}", "actorvmm.logging.file", inner: e);
            }

            configuration.WriteTo.File(formatter, file, shared: true);
        }

        return configuration.CreateLogger();
    }

    /// <summary>The Serilog level for a settings level (<see cref="LoggingLevel.Off"/> maps above Fatal).</summary>
    public static LogEventLevel ToSerilog(LoggingLevel level) => level switch
    {
        LoggingLevel.Debug => LogEventLevel.Debug,
        LoggingLevel.Info => LogEventLevel.Information,
        LoggingLevel.Warning => LogEventLevel.Warning,
        LoggingLevel.Error => LogEventLevel.Error,
        _ => (LogEventLevel)((int)LogEventLevel.Fatal + 1),
    };

    private static ITextFormatter CreateFormatter(LogFormat format) => format == LogFormat.Json
        ? new CompactJsonFormatter()
        : new MessageTemplateTextFormatter(TextTemplate, System.Globalization.CultureInfo.InvariantCulture);
}
