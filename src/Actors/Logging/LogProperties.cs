using Akka.Event;

namespace ActorVmm.Actors.Logging;

/// <summary>
/// Names of the structured properties on VMM log events, and helpers that attach them to an actor's logger:
/// <code>private readonly ILoggingAdapter _log = Context.GetLogger().ForVcpu(index);</code>
/// Every event logged through the returned adapter carries <c>Vcpu</c> (or <c>Device</c>); named template holes
/// (<c>_log.Info("exit {Reason}", reason)</c>) become properties too. Akka.Logger.Serilog adds
/// <c>ActorPath</c> from the event's log source.
/// </summary>
public static class LogProperties
{
    public const string ActorPath = "ActorPath";
    public const string LogSource = "LogSource";
    public const string Vcpu = "Vcpu";
    public const string Device = "Device";
    public const string LogClass = "SourceContext";
    public const string Thread = "Thread";

    /// <summary>A logger whose events carry <c>Vcpu = index</c>.</summary>
    public static ILoggingAdapter ForVcpu(this ILoggingAdapter log, int index) => log.WithContext(Vcpu, index);

    /// <summary>A logger whose events carry <c>Device = name</c> (e.g. <c>serial0</c>, <c>virtio-blk0</c>).</summary>
    public static ILoggingAdapter ForDevice(this ILoggingAdapter log, string name) => log.WithContext(Device, name);
}
