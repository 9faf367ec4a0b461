using ActorVmm.Actors.Logging;
using ActorVmm.Host.Logging;
using ActorVmm.Actors.Settings;
using ActorVmm.Host.Settings;
using Xunit;

namespace ActorVmm.Actors.Tests.Logging;

public sealed class LoggingSetupSpecs : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("actorvmm-log-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void Console_sink_should_write_text_to_the_given_stderr_at_or_above_the_level()
    {
        var stderr = new StringWriter();
        using (var logger = LoggingSetup.Configure(new LoggingSettings(LoggingLevel.Warning, true, null, LogFormat.Text), stderr))
        {
            logger.Information("quiet {N}", 1);
            logger.Warning("loud {N}", 2);
        }

        var text = stderr.ToString();
        Assert.DoesNotContain("quiet", text);
        Assert.Contains("WRN", text);
        Assert.Contains("loud 2", text);
    }

    [Fact]
    public void Json_format_should_write_compact_json_to_the_file()
    {
        var file = Path.Combine(_dir, "vmm.log");
        using (var logger = LoggingSetup.Configure(new LoggingSettings(LoggingLevel.Debug, false, file, LogFormat.Json), new StringWriter()))
        {
            logger.ForContext(LogProperties.Vcpu, 1).Debug("exit {Reason}", "io");
        }

        var line = File.ReadAllLines(file).Single();
        using var json = System.Text.Json.JsonDocument.Parse(line);
        Assert.Equal("exit {Reason}", json.RootElement.GetProperty("@mt").GetString());
        Assert.Equal("io", json.RootElement.GetProperty("Reason").GetString());
        Assert.Equal(1, json.RootElement.GetProperty("Vcpu").GetInt32());
    }

    [Fact]
    public void Off_should_write_nothing()
    {
        var stderr = new StringWriter();
        using (var logger = LoggingSetup.Configure(new LoggingSettings(LoggingLevel.Off, true, null, LogFormat.Text), stderr))
        {
            logger.Fatal("nothing");
        }

        Assert.Equal(string.Empty, stderr.ToString());
    }

    [Fact]
    public void Unopenable_log_file_should_be_a_settings_error()
    {
        var file = Path.Combine(_dir, "no-such-dir", "vmm.log");

        var e = Assert.Throws<SettingsException>(() => LoggingSetup.Configure(new LoggingSettings(LoggingLevel.Info, false, file, LogFormat.Text)));

        Assert.StartsWith($"cannot open log file {file}", e.Message);
    }
}
