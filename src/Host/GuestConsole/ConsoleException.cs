namespace ActorVmm.Host.GuestConsole;

/// <summary>The host end of a console cannot be opened (e.g. a serial output file that is not writable).</summary>
public sealed class ConsoleException(string message, Exception? inner = null) : Exception(message, inner);
