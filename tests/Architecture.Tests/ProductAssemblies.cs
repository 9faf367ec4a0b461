using System.Reflection;
using ActorVmm.Architecture.Tests.Reading;

namespace ActorVmm.Architecture.Tests;

/// <summary>The four product assemblies, lowest layer first, and one shared read of their dependencies.</summary>
internal static class ProductAssemblies
{
    public const string Prefix = "ActorVmm.";

    /// <summary>Layer order: a layer may depend only on layers before it.</summary>
    public static readonly IReadOnlyList<Layer> Layers =
    [
        new("Kvm", typeof(ActorVmm.Kvm.KvmSystem).Assembly, "ActorVmm.Kvm"),
        new("Devices", typeof(ActorVmm.Devices.DeviceStats).Assembly, "ActorVmm.Devices"),
        new("Actors", typeof(ActorVmm.Actors.Vm.VmActor).Assembly, "ActorVmm.Actors"),
        new("Host", typeof(ActorVmm.Host.Cli.CliApp).Assembly, "ActorVmm.Host"),
    ];

    private static readonly Lazy<DependencyScan> _scan =
        new(() => new DependencyReader(Prefix).Read(DependencyReader.TypesOf(Layers.Select(l => l.Assembly))));

    public static DependencyScan Scan => _scan.Value;

    public static int LayerOf(Assembly assembly)
    {
        for (var i = 0; i < Layers.Count; i++)
        {
            if (Layers[i].Assembly == assembly)
            {
                return i;
            }
        }

        return -1;
    }

    /// <summary>The layer whose root namespace holds the namespace (-1 if none; the roots are disjoint).</summary>
    public static int LayerOf(string @namespace)
    {
        for (var i = 0; i < Layers.Count; i++)
        {
            var root = Layers[i].RootNamespace;
            if (@namespace == root || @namespace.StartsWith(root + ".", StringComparison.Ordinal))
            {
                return i;
            }
        }

        return -1;
    }

    public sealed record Layer(string Name, Assembly Assembly, string RootNamespace);
}
