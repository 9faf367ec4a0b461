using ActorVmm.Architecture.Tests.Graph;
using Xunit;

namespace ActorVmm.Architecture.Tests;

public sealed class NamespaceCycleTests
{
    [Fact]
    public void Namespaces_should_form_no_dependency_cycle()
    {
        var graph = NamespaceGraph.Build(ProductAssemblies.Scan.Dependencies, ProductAssemblies.Prefix);

        var cycles = StronglyConnected.Cycles(graph);

        Assert.True(cycles.Count == 0, CycleReport.Describe(graph, cycles));
    }
}
