namespace ActorVmm.Architecture.Tests.Fixtures.D;

/// <summary>Fixture: a switch opcode (variable-length operand) before the only reference to B.</summary>
public static class Switcher
{
    public static object Pick(int n)
    {
        var weight = n switch
        {
            0 => 10,
            1 => 20,
            2 => 35,
            3 => 47,
            4 => 51,
            _ => 0,
        };
        return weight > 0 ? new B.Thing() : new object();
    }
}
