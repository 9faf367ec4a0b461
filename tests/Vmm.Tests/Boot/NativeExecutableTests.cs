using System.Diagnostics;
using ActorVmm.Vmm.Tests.Support;

namespace ActorVmm.Vmm.Tests.Boot;

/// <summary>
/// The Native AOT executable tools/setup.sh publishes (artifacts/actorvmm/actorvmm, what tools/run.sh runs) boots
/// the default guest with virtio block and entropy devices on two vCPUs: Akka, HOCON and the device actors work
/// trimmed and precompiled, not only under the JIT the other tests run in. (The virtio console is left out: with
/// <c>--console virtio</c> the console is hvc0 and COM1, where the guest script reports, is dropped.)
/// </summary>
[Trait("Category", "Kvm")]
public sealed class NativeExecutableTests
{
    [Fact]
    public async Task Native_executable_should_boot_with_virtio_block_and_rng_on_two_vcpus_and_exit_0()
    {
        var executable = Path.Combine(Checkout.Root(), "artifacts", "actorvmm", "actorvmm");
        Assert.True(File.Exists(executable), $"{executable} is missing: tools/setup.sh publishes it");
        using var image = TestImage.Create(1 << 20, "AOT-PATTERN");
        var psi = new ProcessStartInfo(executable)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        foreach (var arg in (string[])["run", "--cpus", "2", "--memory", "256M", "--disk", image.Path, "--rng", "--serial", "stdio", "--cmdline", $"{GuestRun.BaseCmdline} actorvmm.script=virtio"])
        {
            psi.ArgumentList.Add(arg);
        }

        using var process = Process.Start(psi)!;
        process.StandardInput.Close();
        var cancel = TestContext.Current.CancellationToken;
        var stdout = process.StandardOutput.ReadToEndAsync(cancel);
        var stderr = process.StandardError.ReadToEndAsync(cancel);
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancel);
        deadline.CancelAfter(GuestRun.Deadline);
        try
        {
            await process.WaitForExitAsync(deadline.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync(CancellationToken.None);
        }

        var output = await stdout;
        var errors = await stderr;
        var report = $"exit {process.ExitCode}\nstderr:\n{Tail(errors)}\nCOM1:\n{Tail(output)}";
        Assert.True(process.ExitCode == 0, report);
        Assert.True(output.Contains("Linux version 6.1.0-56-amd64", StringComparison.Ordinal), report);
        Assert.Contains("virtio: vda read=AOT-PATTERN", output);
        Assert.Contains("virtio: vda wrote rc=0", output);
        Assert.Matches(@"virtio: hwrng bytes=[0-9a-f]{32}", output);
        Assert.Contains("smp: Brought up 1 node, 2 CPUs", output);
        Assert.Contains("ActorVmm guest init: done rc=0", output);
        Assert.Equal("GUEST:AOT-PATTERN", image.ReadText(4096, 512));
    }

    private static string Tail(string text) => text.Length <= 4000 ? text : text[^4000..];
}
