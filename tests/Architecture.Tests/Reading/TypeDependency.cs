namespace ActorVmm.Architecture.Tests.Reading;

/// <summary>One reference from a type (Source, as read: may be compiler-generated) to another (Target, unwrapped
/// from arrays, pointers, by-refs and generic instantiations). Via names the member where it was seen.</summary>
public sealed record TypeDependency(Type Source, Type Target, string Via);
