namespace ActorVmm.Architecture.Tests.Fixtures.A;

/// <summary>Fixture: depends on B only inside a method body (newobj); its signature names only object.</summary>
public sealed class Maker
{
    public object Make() => new B.Thing();
}
