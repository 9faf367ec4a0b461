using System.Text;

namespace ActorVmm.Architecture.Tests.Graph;

/// <summary>Describes dependency cycles for a failure message: each cycle's namespaces, then every edge inside it
/// with example type references, so the offending reference can be found.</summary>
public static class CycleReport
{
    public static string Describe(NamespaceGraph graph, IReadOnlyList<IReadOnlyList<string>> cycles)
    {
        var text = new StringBuilder();
        text.AppendLine($"{cycles.Count} namespace dependency cycle(s):");
        var number = 0;
        foreach (var cycle in cycles.OrderBy(c => c[0], StringComparer.Ordinal))
        {
            text.AppendLine();
            text.AppendLine($"Cycle {++number}: {string.Join(", ", cycle)}");
            foreach (var from in cycle)
            {
                foreach (var to in cycle.Where(to => graph.HasEdge(from, to)))
                {
                    text.AppendLine($"  {from} → {to}");
                    foreach (var example in graph.Examples(from, to))
                    {
                        text.AppendLine($"      {example}");
                    }
                }
            }
        }

        return text.ToString();
    }
}
