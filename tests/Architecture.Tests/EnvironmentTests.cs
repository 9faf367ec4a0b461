using ActorVmm.Architecture.Tests.Reading;
using Xunit;

namespace ActorVmm.Architecture.Tests;

public sealed class EnvironmentTests
{
    [Fact]
    public void Only_the_program_should_read_environment_variables()
    {
        var host = ProductAssemblies.Layers[^1].Assembly;

        var offenders = EnvironmentReads.In(ProductAssemblies.Scan.Calls)
            .Where(call => call.Caller.Module.Assembly != host)
            .Select(call => $"{TypeNames.Display(call.Caller)} → {TypeNames.Display(call.Callee)}")
            .Distinct()
            .Order(StringComparer.Ordinal)
            .ToList();

        Assert.True(offenders.Count == 0,
            $"{offenders.Count} environment read(s) outside the program (pass settings in instead):\n" + string.Join("\n", offenders));
    }
}
