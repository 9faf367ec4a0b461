using ActorVmm.Host.GuestConsole;
using Xunit;

namespace ActorVmm.Actors.Tests.GuestConsole;

public class SerialSpecSpecs
{
    [Theory]
    [InlineData("stdio", SerialSpecKind.Stdio, null)]
    [InlineData("none", SerialSpecKind.None, null)]
    [InlineData("file:/tmp/x.log", SerialSpecKind.File, "/tmp/x.log")]
    [InlineData("file:rel/with:colon", SerialSpecKind.File, "rel/with:colon")]
    public void Valid_specs_should_parse_and_round_trip(string text, SerialSpecKind kind, string? path)
    {
        Assert.True(SerialSpec.TryParse(text, out var spec, out _));
        Assert.Equal(kind, spec.Kind);
        Assert.Equal(path, spec.Path);
        Assert.Equal(text, spec.ToString());
    }

    [Theory]
    [InlineData("")]
    [InlineData(null)]
    [InlineData("file:")]
    [InlineData("tty")]
    [InlineData("STDIO")]
    [InlineData("file")]
    [InlineData("pty:/dev/pts/1")]
    public void Garbage_specs_should_not_parse(string? text)
    {
        Assert.False(SerialSpec.TryParse(text, out _, out var error));
        Assert.StartsWith("must ", error);
        Assert.Throws<FormatException>(() => SerialSpec.Parse(text ?? string.Empty));
    }
}
