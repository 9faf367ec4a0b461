namespace ActorVmm.Vmm.Tests.Support;

/// <summary>The project checkout the tests run from (found above the test assembly, as inside the nested runner).</summary>
public static class Checkout
{
    /// <summary>The checkout's root: the first folder above the test assembly that holds <c>.git</c>.</summary>
    public static string Root()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (Directory.Exists(Path.Combine(dir.FullName, ".git")) || File.Exists(Path.Combine(dir.FullName, ".git")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException($"no checkout above {AppContext.BaseDirectory}");
    }
}
