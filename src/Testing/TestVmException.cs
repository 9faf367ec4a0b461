namespace ActorVmm.Testing;

/// <summary>A wait on a test VM failed: it timed out or the VM stopped first. The message ends with the console's last lines.</summary>
/// <param name="message">What failed, with the console tail.</param>
/// <param name="inner">The cause, if any.</param>
public sealed class TestVmException(string message, Exception? inner = null) : Exception(message, inner);
