using ActorVmm.Architecture.Tests.Reading;

namespace ActorVmm.Architecture.Tests;

/// <summary>Calls that read the process environment: Environment.GetEnvironmentVariable(s).</summary>
internal static class EnvironmentReads
{
    public static IEnumerable<MethodCall> In(IEnumerable<MethodCall> calls) =>
        calls.Where(call => call.Callee.DeclaringType == typeof(Environment)
            && call.Callee.Name is nameof(Environment.GetEnvironmentVariable) or nameof(Environment.GetEnvironmentVariables));
}
