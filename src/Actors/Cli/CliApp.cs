namespace ActorVmm.Actors.Cli;

/// <summary>Entry point of the <c>actorvmm</c> command.</summary>
public static class CliApp
{
    public static int Run(string[] args)
    {
        Console.Error.WriteLine("actorvmm: not built yet");
        return 2;
    }
}
