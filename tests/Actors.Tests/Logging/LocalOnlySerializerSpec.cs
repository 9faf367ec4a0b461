using ActorVmm.Actors.Logging;
using ActorVmm.Host.Logging;
using ActorVmm.Actors.Settings;
using ActorVmm.Host.Settings;
using Akka.Actor;
using Akka.TestKit.Xunit2;
using Xunit;

namespace ActorVmm.Actors.Tests.Logging;

/// <summary>The VMM's actor system, configured by <see cref="AkkaConfig"/>: local-only, no JSON serializer.</summary>
public sealed class LocalOnlySerializerSpec : TestKit
{
    public LocalOnlySerializerSpec()
        : base(AkkaConfig.Build(SettingsLoader.Reference), "local-only")
    {
    }

    [Fact]
    public void Object_messages_should_map_to_the_local_only_serializer_not_json()
    {
        var serializer = Sys.Serialization.FindSerializerForType(typeof(object));

        Assert.IsType<LocalOnlySerializer>(serializer);
        Assert.Equal(typeof(LocalOnlySerializer), Type.GetType(AkkaConfig.LocalOnlySerializerTypeName));
    }

    [Fact]
    public void Serializing_through_it_should_fail_loudly()
    {
        var serializer = Sys.Serialization.FindSerializerForType(typeof(object));

        var toBinary = Assert.Throws<NotSupportedException>(() => serializer.ToBinary(new Probe("x")));
        Assert.Contains("local-only", toBinary.Message, StringComparison.Ordinal);
        Assert.Throws<NotSupportedException>(() => serializer.FromBinary([1, 2, 3], typeof(Probe)));
    }

    [Fact]
    public void Local_messages_should_still_be_delivered_as_the_same_object()
    {
        var echo = Sys.ActorOf(Props.Create(() => new EchoActor()));
        var message = new Probe("hello");

        echo.Tell(message, TestActor);

        Assert.Same(message, ExpectMsg<Probe>());
    }

    private sealed record Probe(string Text);

    private sealed class EchoActor : UntypedActor
    {
        protected override void OnReceive(object message) => Sender.Tell(message);
    }
}
