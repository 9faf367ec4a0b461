using System.Reflection;
using System.Runtime.CompilerServices;

namespace ActorVmm.Architecture.Tests.Reading;

/// <summary>How types are named in the graph: a nested type belongs to its outermost declaring type's namespace;
/// compiler-generated types (closures, state machines, lambdas) are shown as the type that declared them.</summary>
public static class TypeNames
{
    public static Type Outermost(Type type)
    {
        while (type.DeclaringType is { } outer)
        {
            type = outer;
        }

        return type;
    }

    public static string NamespaceOf(Type type) => Outermost(type).Namespace ?? "";

    /// <summary>The nearest type a contributor wrote: climbs out of compiler-generated nested types.</summary>
    public static Type Written(Type type)
    {
        while (type.DeclaringType is { } outer && IsCompilerGenerated(type))
        {
            type = outer;
        }

        return type;
    }

    public static string Display(Type type) => (Written(type).FullName ?? Written(type).Name).Replace('+', '.');

    public static string Display(MethodBase method) =>
        method.DeclaringType is { } declaring ? $"{Display(declaring)}.{method.Name}" : method.Name;

    private static bool IsCompilerGenerated(Type type) =>
        type.Name.StartsWith('<') || type.IsDefined(typeof(CompilerGeneratedAttribute), inherit: false);
}
