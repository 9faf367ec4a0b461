namespace ActorVmm.Architecture.Tests.Graph;

/// <summary>Tarjan's strongly connected components. A component of more than one node is a dependency cycle
/// (self-edges are never in the graph).</summary>
public static class StronglyConnected
{
    public static IReadOnlyList<IReadOnlyList<string>> Cycles(NamespaceGraph graph) =>
        Components(graph.Namespaces, graph.Targets).Where(c => c.Count > 1).ToList();

    public static IReadOnlyList<IReadOnlyList<string>> Components(IEnumerable<string> nodes, Func<string, IEnumerable<string>> successors)
    {
        var index = new Dictionary<string, int>();
        var lowLink = new Dictionary<string, int>();
        var onStack = new HashSet<string>();
        var stack = new Stack<string>();
        var components = new List<IReadOnlyList<string>>();

        void Visit(string node)
        {
            index[node] = lowLink[node] = index.Count;
            stack.Push(node);
            onStack.Add(node);
            foreach (var next in successors(node))
            {
                if (!index.ContainsKey(next))
                {
                    Visit(next);
                    lowLink[node] = Math.Min(lowLink[node], lowLink[next]);
                }
                else if (onStack.Contains(next))
                {
                    lowLink[node] = Math.Min(lowLink[node], index[next]);
                }
            }

            if (lowLink[node] == index[node])
            {
                var component = new List<string>();
                string member;
                do
                {
                    member = stack.Pop();
                    onStack.Remove(member);
                    component.Add(member);
                }
                while (member != node);

                component.Sort(StringComparer.Ordinal);
                components.Add(component);
            }
        }

        foreach (var node in nodes)
        {
            if (!index.ContainsKey(node))
            {
                Visit(node);
            }
        }

        return components;
    }
}
