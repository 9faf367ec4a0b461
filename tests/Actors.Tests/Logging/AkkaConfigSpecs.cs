using ActorVmm.Actors.Logging;
using ActorVmm.Host.Logging;
using ActorVmm.Actors.Settings;
using ActorVmm.Host.Settings;
using Xunit;

namespace ActorVmm.Actors.Tests.Logging;

public class AkkaConfigSpecs
{
    [Theory]
    [InlineData(LoggingLevel.Debug, "DEBUG")]
    [InlineData(LoggingLevel.Info, "INFO")]
    [InlineData(LoggingLevel.Warning, "WARNING")]
    [InlineData(LoggingLevel.Error, "ERROR")]
    [InlineData(LoggingLevel.Off, "OFF")]
    public void Akka_config_should_use_the_Serilog_logger_and_the_settings_level(LoggingLevel level, string akkaLevel)
    {
        var settings = SettingsLoader.Reference with { Logging = LoggingSettings.Default with { Level = level } };

        var config = AkkaConfig.Build(settings);

        Assert.Equal([AkkaConfig.LoggerTypeName], config.GetStringList("akka.loggers"));
        Assert.Equal(akkaLevel, config.GetString("akka.loglevel"));
        Assert.Equal("OFF", config.GetString("akka.stdout-loglevel"));
        Assert.Equal(typeof(Akka.Logger.Serilog.SerilogLogger), Type.GetType(AkkaConfig.LoggerTypeName));
    }

}
