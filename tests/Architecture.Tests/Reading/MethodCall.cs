using System.Reflection;

namespace ActorVmm.Architecture.Tests.Reading;

/// <summary>A method (or constructor) whose IL names another method: call, callvirt, newobj, ldftn, ldtoken.</summary>
public sealed record MethodCall(MethodBase Caller, MethodBase Callee);
