using ActorVmm.Architecture.Tests.Reading;
using Xunit;

namespace ActorVmm.Architecture.Tests;

public sealed class LayerTests
{
    [Fact]
    public void Assemblies_should_depend_only_downward()
    {
        // Upward: the target's assembly, or the layer its namespace names, sits above the source's assembly.
        var upward = ProductAssemblies.Scan.Dependencies
            .Select(d => (Dependency: d, From: ProductAssemblies.LayerOf(d.Source.Assembly),
                To: Math.Max(ProductAssemblies.LayerOf(d.Target.Assembly), ProductAssemblies.LayerOf(TypeNames.NamespaceOf(d.Target)))))
            .Where(d => d.From >= 0 && d.To > d.From)
            .Select(d => $"{ProductAssemblies.Layers[d.From].Name} → {ProductAssemblies.Layers[d.To].Name}: "
                + $"{TypeNames.Display(d.Dependency.Source)} → {TypeNames.Display(d.Dependency.Target)} (in {d.Dependency.Via})")
            .Distinct()
            .Order(StringComparer.Ordinal)
            .ToList();

        Assert.True(upward.Count == 0, $"{upward.Count} upward reference(s):\n" + string.Join("\n", upward));
    }

    [Fact]
    public void Types_should_live_under_their_assemblys_root_namespace()
    {
        // The namespace check above relies on it: a type's namespace names the layer it is built in.
        var misplaced = ProductAssemblies.Layers
            .SelectMany(layer => layer.Assembly.GetTypes().Select(type => (Layer: layer, Type: type)))
            .Where(t => TypeNames.NamespaceOf(t.Type).StartsWith(ProductAssemblies.Prefix, StringComparison.Ordinal))
            .Where(t => ProductAssemblies.LayerOf(TypeNames.NamespaceOf(t.Type)) != ProductAssemblies.LayerOf(t.Layer.Assembly))
            .Select(t => $"{TypeNames.Display(t.Type)} (in {t.Layer.Name})")
            .Distinct()
            .Order(StringComparer.Ordinal)
            .ToList();

        Assert.True(misplaced.Count == 0, $"{misplaced.Count} type(s) outside their assembly's namespace:\n" + string.Join("\n", misplaced));
    }
}
