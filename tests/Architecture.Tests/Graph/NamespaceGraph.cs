using ActorVmm.Architecture.Tests.Reading;

namespace ActorVmm.Architecture.Tests.Graph;

/// <summary>Namespace → namespace dependencies, each edge with a few example type references that make it.
/// Only namespaces under the prefix take part; self-edges are left out.</summary>
public sealed class NamespaceGraph
{
    private const int ExamplesPerEdge = 2;

    private readonly SortedDictionary<string, SortedDictionary<string, List<string>>> _edges = new(StringComparer.Ordinal);

    public static NamespaceGraph Build(IEnumerable<TypeDependency> dependencies, string namespacePrefix)
    {
        var graph = new NamespaceGraph();
        foreach (var dependency in dependencies)
        {
            var from = TypeNames.NamespaceOf(dependency.Source);
            var to = TypeNames.NamespaceOf(dependency.Target);
            if (from != to && from.StartsWith(namespacePrefix, StringComparison.Ordinal)
                && to.StartsWith(namespacePrefix, StringComparison.Ordinal))
            {
                graph.Add(from, to, $"{TypeNames.Display(dependency.Source)} → {TypeNames.Display(dependency.Target)} (in {dependency.Via})");
            }
        }

        return graph;
    }

    public IEnumerable<string> Namespaces => _edges.Keys;

    public IEnumerable<string> Targets(string from) =>
        _edges.TryGetValue(from, out var targets) ? targets.Keys : [];

    public bool HasEdge(string from, string to) => _edges.TryGetValue(from, out var targets) && targets.ContainsKey(to);

    public IReadOnlyList<string> Examples(string from, string to) =>
        _edges.TryGetValue(from, out var targets) && targets.TryGetValue(to, out var examples) ? examples : [];

    private void Add(string from, string to, string example)
    {
        if (!_edges.TryGetValue(from, out var targets))
        {
            _edges[from] = targets = new SortedDictionary<string, List<string>>(StringComparer.Ordinal);
        }

        if (!_edges.ContainsKey(to))
        {
            _edges[to] = new SortedDictionary<string, List<string>>(StringComparer.Ordinal);
        }

        if (!targets.TryGetValue(to, out var examples))
        {
            targets[to] = examples = [];
        }

        // Distinct type pairs: the member part of the example is only where the first one was seen.
        var pair = example[..example.LastIndexOf(" (in ", StringComparison.Ordinal)];
        if (examples.Count < ExamplesPerEdge && !examples.Any(e => e.StartsWith(pair + " (in ", StringComparison.Ordinal)))
        {
            examples.Add(example);
        }
    }
}
