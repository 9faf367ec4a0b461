namespace ActorVmm.Architecture.Tests.Fixtures.C;

/// <summary>Fixture: depends on A and reads the environment only inside lambdas (compiler-generated nested types).</summary>
public static class Later
{
    public static Func<object> Maker() => () => new A.Maker();

    public static Func<string?> Setting(string name) => () => Environment.GetEnvironmentVariable(name);
}
