using Akka.Actor;
using Akka.Configuration;
using Akka.Serialization;
using ActorVmm.Actors.Logging;
using ActorVmm.Actors.Settings;

namespace ActorVmm.Host.Logging;

/// <summary>
/// Stands in for Akka's default object serializer (Newtonsoft JSON) in the VMM's actor system, which is local-only:
/// no remoting, no persistence, <c>serialize-messages</c> off, so no message is ever serialized. Akka creates every
/// configured serializer when the actor system starts; this one costs nothing there, where the JSON serializer loads
/// Newtonsoft.Json and builds its settings on the way to the first KVM_RUN. Serializing through it is a bug and says so.
/// </summary>
public sealed class LocalOnlySerializer : Serializer
{
    /// <summary>Akka's identifier of the JSON serializer this one replaces (<c>serialization-identifiers</c>).</summary>
    public const int JsonIdentifier = 1;

    public LocalOnlySerializer(ExtendedActorSystem system)
        : base(system)
    {
    }

    /// <summary>Akka passes the replaced serializer's <c>serialization-settings.json</c> block; nothing in it applies.</summary>
    public LocalOnlySerializer(ExtendedActorSystem system, Config config)
        : base(system)
    {
    }

    public override int Identifier => JsonIdentifier;

    public override bool IncludeManifest => false;

    public override byte[] ToBinary(object obj) =>
        throw new NotSupportedException($"the VMM's actor system is local-only and never serializes messages (asked to serialize a {obj?.GetType().Name ?? "null"})");

    public override object FromBinary(byte[] bytes, Type type) =>
        throw new NotSupportedException($"the VMM's actor system is local-only and never deserializes messages (asked for a {type?.Name ?? "null"})");
}
