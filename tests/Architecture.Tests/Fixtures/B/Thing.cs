namespace ActorVmm.Architecture.Tests.Fixtures.B;

/// <summary>Fixture: depends on A through a field, closing the A ↔ B cycle.</summary>
public sealed class Thing
{
    public A.Maker? Owner;
}
