using System.Text;
using System.Text.RegularExpressions;
using ActorVmm.Host.Serve;
using ActorVmm.Vmm.Tests.Support;
using Akka.Actor;
using Akka.Configuration;

namespace ActorVmm.Vmm.Tests.Serve;

/// <summary>The serve runtime in-process (no HTTP): VMs built, started, killed and deleted independently in one actor system.</summary>
[Trait("Category", "Kvm")]
public sealed partial class VmServiceTests : IAsyncLifetime
{
    private ActorSystem _system = null!;

    public ValueTask InitializeAsync()
    {
        _system = ActorSystem.Create("serve-test", ConfigurationFactory.ParseString("akka.loglevel = WARNING\nakka.stdout-loglevel = WARNING"));
        return ValueTask.CompletedTask;
    }

    public async ValueTask DisposeAsync() => await _system.Terminate();

    internal static string TickerBody(string memory = "128M") =>
        $$"""{"cpus":1,"memory":"{{memory}}","cmdline":"{{GuestRun.BaseCmdline}} actorvmm.script=ticker"}""";

    /// <summary>The highest "tick N" on the VM's console so far (0: none yet).</summary>
    internal static int LastTick(byte[] console)
    {
        var last = 0;
        foreach (Match m in TickLine().Matches(Encoding.UTF8.GetString(console)))
        {
            last = Math.Max(last, int.Parse(m.Groups[1].Value));
        }

        return last;
    }

    [Fact]
    public async Task Two_VMs_run_independently_and_deleting_them_leaves_no_vmm_thread_or_fd()
    {
        var ct = TestContext.Current.CancellationToken;
        var pid = Environment.ProcessId;
        var service = new VmService(_system);
        // A first VM run and deleted: what the process opens once for good (the runtime's lazily created fds) is
        // then not counted; a leak per VM still shows below.
        await service.CreateAsync("warm-up", TickerBody(), ct);
        await service.StartAsync("warm-up", ct);
        Assert.True(await ProcessCounts.EventuallyAsync(() => service.ConsoleTail("warm-up", 1).Length > 0, GuestRun.Deadline), "the warm-up VM printed nothing");
        await service.DeleteAsync("warm-up", ct);
        var fdsBefore = ProcessCounts.Fds(pid);
        var targetsBefore = ProcessCounts.FdTargets(pid);

        await service.CreateAsync("a", TickerBody(), ct);
        await service.CreateAsync("b", TickerBody(), ct);
        Assert.Equal(VmStates.Created, service.Get("a").State);
        await service.StartAsync("a", ct);
        await service.StartAsync("b", ct);
        Assert.True(
            await ProcessCounts.EventuallyAsync(() => LastTick(service.ConsoleTail("a", 4096)) >= 3 && LastTick(service.ConsoleTail("b", 4096)) >= 3, GuestRun.Deadline),
            "both guests should tick: " + Encoding.UTF8.GetString(service.ConsoleTail("a", 2000)));

        var killed = await service.KillAsync("a", ct);
        Assert.Equal(VmStates.Stopped, killed.State);
        Assert.Equal("host-request", killed.Exit!.Reason);
        var bTicks = LastTick(service.ConsoleTail("b", 4096));
        Assert.True(
            await ProcessCounts.EventuallyAsync(() => LastTick(service.ConsoleTail("b", 4096)) > bTicks + 2, TimeSpan.FromSeconds(60)),
            "b should keep ticking after a was killed");
        Assert.Equal(VmStates.Running, service.Get("b").State);

        await service.DeleteAsync("a", ct);
        await service.DeleteAsync("b", ct);
        Assert.Empty(service.List());
        Assert.True(await ProcessCounts.EventuallyAsync(() => ProcessCounts.VmmThreads(pid).Count == 0, TimeSpan.FromSeconds(10)),
            "VMM threads left: " + string.Join(", ", ProcessCounts.VmmThreads(pid)));
        Assert.True(await ProcessCounts.EventuallyAsync(() => ProcessCounts.Fds(pid) <= fdsBefore, TimeSpan.FromSeconds(10)),
            $"fds: {fdsBefore} before, {ProcessCounts.Fds(pid)} after deleting every VM; added: {ProcessCounts.Added(targetsBefore, ProcessCounts.FdTargets(pid))}");
    }

    [Fact]
    public async Task A_created_VM_deleted_before_it_starts_releases_what_it_opened()
    {
        var ct = TestContext.Current.CancellationToken;
        var pid = Environment.ProcessId;
        var service = new VmService(_system);
        // A first build opens what the process keeps for good (the runtime's own lazily created fds): count after it.
        await service.CreateAsync("warm-up", TickerBody(), ct);
        await service.DeleteAsync("warm-up", ct);
        var fdsBefore = ProcessCounts.Fds(pid);
        var targetsBefore = ProcessCounts.FdTargets(pid);
        await service.CreateAsync("never-started", TickerBody(), ct);
        Assert.True(KvmFds(pid) > KvmFds(targetsBefore), "building a VM opens /dev/kvm, the VM and its vCPUs");

        await service.DeleteAsync("never-started", ct);

        // Polled: the process may still be closing what an earlier test's actor system left behind, and a leak
        // stays above the count for good.
        Assert.True(await ProcessCounts.EventuallyAsync(() => KvmFds(pid) == KvmFds(targetsBefore), TimeSpan.FromSeconds(10)),
            $"KVM fds left: {KvmFds(pid)} (before: {KvmFds(targetsBefore)})");
        Assert.True(await ProcessCounts.EventuallyAsync(() => ProcessCounts.Fds(pid) <= fdsBefore, TimeSpan.FromSeconds(10)),
            $"fds: {fdsBefore} before, {ProcessCounts.Fds(pid)} after deleting the VM; added: {ProcessCounts.Added(targetsBefore, ProcessCounts.FdTargets(pid))}");
        Assert.Throws<VmServiceException>(() => service.Get("never-started"));
    }

    [Fact]
    public async Task A_create_that_fails_leaves_no_VM_and_no_fd()
    {
        var ct = TestContext.Current.CancellationToken;
        var pid = Environment.ProcessId;
        var service = new VmService(_system);
        var fdsBefore = ProcessCounts.Fds(pid);
        var missing = Path.Combine(Checkout.Root(), "artifacts", "no-such-disk.img");

        var error = await Assert.ThrowsAsync<VmServiceException>(() => service.CreateAsync(
            "bad", $$"""{"disks":[{"path":"{{missing}}"}],"cmdline":"console=ttyS0"}""", ct));

        Assert.Equal(400, error.Status);
        Assert.Contains("no-such-disk.img", error.Message);
        Assert.Empty(service.List());
        Assert.Equal(fdsBefore, ProcessCounts.Fds(pid));
    }

    private static int KvmFds(int pid) => KvmFds(ProcessCounts.FdTargets(pid));

    /// <summary>/dev/kvm and the VM and vCPU fds KVM hands out (<c>anon_inode:kvm-vm</c>, <c>anon_inode:kvm-vcpu:N</c>).</summary>
    private static int KvmFds(IReadOnlyList<string> targets) => targets.Count(t => t.Contains("kvm", StringComparison.Ordinal));

    [GeneratedRegex(@"^tick (\d+)\r?$", RegexOptions.Multiline)]
    private static partial Regex TickLine();
}
