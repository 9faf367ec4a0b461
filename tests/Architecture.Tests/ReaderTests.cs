using ActorVmm.Architecture.Tests.Graph;
using ActorVmm.Architecture.Tests.Reading;
using Xunit;

namespace ActorVmm.Architecture.Tests;

/// <summary>The reader and the cycle detector against fixture namespaces, so the architecture tests can fail.</summary>
public sealed class ReaderTests
{
    private const string Fixtures = "ActorVmm.Architecture.Tests.Fixtures.";
    private const string A = Fixtures + "A";
    private const string B = Fixtures + "B";
    private const string C = Fixtures + "C";
    private const string D = Fixtures + "D";

    private static readonly DependencyScan _scan = new DependencyReader(Fixtures).Read(
        typeof(ReaderTests).Assembly.GetTypes().Where(t => TypeNames.NamespaceOf(t).StartsWith(Fixtures, StringComparison.Ordinal)));

    private static readonly NamespaceGraph _graph = NamespaceGraph.Build(_scan.Dependencies, Fixtures);

    [Fact]
    public void Reader_should_find_a_reference_made_only_in_a_method_body()
    {
        Assert.True(_graph.HasEdge(A, B));
        Assert.Contains(_graph.Examples(A, B), e => e.StartsWith($"{A}.Maker → {B}.Thing", StringComparison.Ordinal));
    }

    [Fact]
    public void Reader_should_find_a_reference_made_through_a_field()
    {
        Assert.True(_graph.HasEdge(B, A));
        Assert.Contains($"{B}.Thing → {A}.Maker (in Owner)", _graph.Examples(B, A));
    }

    [Fact]
    public void Reader_should_attribute_lambdas_to_their_declaring_types_namespace()
    {
        Assert.True(_graph.HasEdge(C, A));
        Assert.Contains(_graph.Examples(C, A), e => e.StartsWith($"{C}.Later → {A}.Maker", StringComparison.Ordinal));
    }

    [Fact]
    public void Reader_should_decode_past_a_switch()
    {
        Assert.True(_graph.HasEdge(D, B));
    }

    [Fact]
    public void Cycle_detector_should_report_the_A_B_cycle_only()
    {
        var cycles = StronglyConnected.Cycles(_graph);

        var cycle = Assert.Single(cycles);
        Assert.Equal([A, B], cycle);
        var report = CycleReport.Describe(_graph, cycles);
        Assert.Contains($"{A} → {B}", report);
        Assert.Contains($"{B} → {A}", report);
        Assert.DoesNotContain(C, report);
    }

    [Fact]
    public void Cycle_detector_should_find_a_parent_child_cycle()
    {
        string[] nodes = ["P", "P.Child", "Q"];
        var edges = new Dictionary<string, string[]> { ["P"] = ["P.Child"], ["P.Child"] = ["P", "Q"], ["Q"] = [] };

        var components = StronglyConnected.Components(nodes, n => edges[n]).Where(c => c.Count > 1).ToList();

        Assert.Equal(["P", "P.Child"], Assert.Single(components));
    }

    [Fact]
    public void Reader_should_find_environment_reads_inside_lambdas()
    {
        var reads = EnvironmentReads.In(_scan.Calls).Select(call => TypeNames.Display(call.Caller)).ToList();

        Assert.Contains(reads, r => r.StartsWith($"{C}.Later.", StringComparison.Ordinal));
    }
}
