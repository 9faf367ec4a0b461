namespace ActorVmm.Architecture.Tests.Reading;

/// <summary>What a DependencyReader found: type → type references (targets kept by the reader's prefix) and every
/// method call seen in IL (all callees, framework ones included).</summary>
public sealed record DependencyScan(IReadOnlyList<TypeDependency> Dependencies, IReadOnlyList<MethodCall> Calls);
